#pragma once

// The PostgreSQL SQLSTATEs grant acts on (Appendix A of the PostgreSQL manual), by name, so that
// a retry rule reads as what it means. DbError::sqlstate() compares with them.
namespace grant::db::sqlstate {

inline constexpr const char* k_transaction_rollback = "40000";
inline constexpr const char* k_serialization_failure = "40001";
inline constexpr const char* k_statement_completion_unknown = "40003";
inline constexpr const char* k_deadlock_detected = "40P01";
inline constexpr const char* k_lock_not_available = "55P03";
inline constexpr const char* k_query_canceled = "57014";
inline constexpr const char* k_feature_not_supported = "0A000";
inline constexpr const char* k_undefined_object = "42704"; ///< e.g. no prepared transaction by that id
inline constexpr const char* k_undefined_table = "42P01";
inline constexpr const char* k_foreign_key_violation = "23503";
inline constexpr const char* k_unique_violation = "23505";

} // namespace grant::db::sqlstate
