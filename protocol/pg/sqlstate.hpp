// SQLSTATE codes baton sends to PostgreSQL clients, named after PostgreSQL's condition names.
#pragma once

#include <string_view>

// Values checked against PostgreSQL's errcodes list (Appendix A "PostgreSQL Error Codes",
// generated from src/backend/utils/errcodes.txt). 57P05 exists since PostgreSQL 14.
namespace baton::protocol::pg::sqlstate {

// Class 08 - Connection Exception
inline constexpr std::string_view kConnectionException = "08000";
inline constexpr std::string_view kSqlclientUnableToEstablishSqlconnection = "08001";
inline constexpr std::string_view kSqlserverRejectedEstablishmentOfSqlconnection = "08004";
inline constexpr std::string_view kConnectionFailure = "08006";
inline constexpr std::string_view kProtocolViolation = "08P01";

// Class 0A - Feature Not Supported
inline constexpr std::string_view kFeatureNotSupported = "0A000";

// Class 26 - Invalid SQL Statement Name (prepared statements)
inline constexpr std::string_view kInvalidSqlStatementName = "26000";

// Class 28 - Invalid Authorization Specification
inline constexpr std::string_view kInvalidAuthorizationSpecification = "28000";
inline constexpr std::string_view kInvalidPassword = "28P01";

// Class 3D - Invalid Catalog Name (an unknown database)
inline constexpr std::string_view kInvalidCatalogName = "3D000";

// Class 42 - Syntax Error or Access Rule Violation
inline constexpr std::string_view kDuplicatePreparedStatement = "42P05";

// Class 53 - Insufficient Resources
inline constexpr std::string_view kTooManyConnections = "53300";
inline constexpr std::string_view kConfigurationLimitExceeded = "53400";

// Class 54 - Program Limit Exceeded
inline constexpr std::string_view kProgramLimitExceeded = "54000";

// Class 57 - Operator Intervention
inline constexpr std::string_view kQueryCanceled = "57014";
inline constexpr std::string_view kAdminShutdown = "57P01";
inline constexpr std::string_view kCrashShutdown = "57P02";
inline constexpr std::string_view kCannotConnectNow = "57P03";
inline constexpr std::string_view kInvalidParameterValue = "22023";
inline constexpr std::string_view kIdleSessionTimeout = "57P05";

// Class XX - Internal Error
inline constexpr std::string_view kInternalError = "XX000";

}  // namespace baton::protocol::pg::sqlstate
