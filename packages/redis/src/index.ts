/**
 * @since 0.1.0
 */
export * as RedisLimiterError from "./RedisLimiterError.js"
/**
 * @since 0.1.0
 */
export * as RedisRateLimiter from "./RedisRateLimiter.js"
