#pragma once

#include <pqxx/connection>

#include <memory>
#include <string>

namespace grant::test {

/// A PostgreSQL connection to `url` for a test's own statements, kept open and handed out again
/// to this thread for the same URL. A new connection costs the server about 40 ms of CPU (a
/// fork, start-up and exit); the suites' own one-statement checks opened about 2,500 of a pass's
/// 6,900 connections (docs/testing.md). At most eight are kept per thread, the least recently
/// used closed first; one the server has closed since (a restart, pg_terminate_backend) is
/// replaced on the next call.
///
/// For statements whose effect does not depend on the session ending: no session-level advisory
/// locks, `SET` or temporary tables. A transaction opened on it must end (commit or destruction)
/// before the thread asks for the same URL again.
std::shared_ptr<pqxx::connection> pg_session(const std::string& url);

/// The first column of the first row of `sql` on `url`'s reused session, "NULL" for NULL.
std::string pg_scalar(const std::string& url, const std::string& sql);
/// Runs `sql` (one or more statements, autocommit) on `url`'s reused session.
void pg_execute(const std::string& url, const std::string& sql);

} // namespace grant::test
