const ENTITIES: Readonly<Record<string, string>> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;"
}

/**
 * Escapes text for HTML element content and double- or single-quoted attribute values. Every
 * value that comes from data (ids, labels, error messages) goes through here, or through the
 * DOM serializer for the charts.
 */
export const escapeHtml = (text: string): string => text.replace(/[&<>"']/g, (c) => ENTITIES[c]!)
