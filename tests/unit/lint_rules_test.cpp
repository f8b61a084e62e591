#include <grant/config/load.hpp>
#include <grant/error.hpp>
#include <grant/lint/linter.hpp>
#include <grant/lint/rules.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <set>

// One namespace per test file: the helpers of two files never meet in a unity build.
namespace grant_test_lint_rules_test {

using namespace grant;

namespace {

// `primary` (one PostgreSQL writer), `orders` (two shards, sharded by customer_id: orders and
// order_items) and `local` (SQLite). `lint` is extra JSON for the top-level lint section.
config::Config fleet(const std::string& lint = "") {
  const std::string text = R"({)" + (lint.empty() ? std::string{} : R"("lint": )" + lint + ",") +
                           R"("databases": {"primary": {"url": "postgres://h/p"},
          "orders": {"shards": [{"name": "s0", "url": "postgres://h/o0"}, {"name": "s1", "url": "postgres://h/o1"}],
                     "sharding": {"key": "customer_id", "tables": ["orders", "public.order_items"],
                                  "resolver": {"type": "modulo"}}},
          "local": {"url": "sqlite::memory:"}}})";
  return config::parse(text, "grant.json", [](const std::string&) { return std::nullopt; });
}

// Lints migrations (each "-- grant:up ..." text) in order against one database of fleet().
lint::Report lint_texts(const std::vector<std::string>& texts, const std::string& database = "primary",
                        const std::string& lint_section = "") {
  static std::vector<config::Config> configs; // findings point into the config: keep it alive
  configs.push_back(fleet(lint_section));
  std::vector<migrate::Migration> migrations;
  for (std::size_t i = 0; i < texts.size(); ++i) {
    migrations.push_back(migrate::parse_migration("db/migrate/" + std::to_string(i + 1) + "_m.sql", texts[i]));
  }
  std::vector<const migrate::Migration*> pending;
  for (const auto& migration : migrations) {
    pending.push_back(&migration);
  }
  lint::Report report;
  lint::lint_migrations(*configs.back().find(database), pending, {}, report);
  return report;
}

lint::Report lint_sql(const std::string& sql, const std::string& database = "primary") {
  return lint_texts({"-- grant:up lock_timeout=2s\n" + sql}, database);
}

std::set<std::string> rules_of(const lint::Report& report) {
  std::set<std::string> out;
  for (const auto& finding : report.findings) {
    if (!finding.silenced) {
      out.insert(finding.rule);
    }
  }
  return out;
}

bool reports(const std::string& sql, const std::string& rule, const std::string& database = "primary") {
  return rules_of(lint_sql(sql, database)).count(rule) > 0;
}

} // namespace

TEST_CASE("lint::rules: every rule has a failing and a passing example") {
  SUBCASE("index-without-concurrently") {
    CHECK(reports("CREATE INDEX orders_by_day ON orders (day);", "index-without-concurrently"));
    CHECK_FALSE(reports("CREATE TABLE t (a int);\nCREATE INDEX t_a ON t (a);", "index-without-concurrently"));
    CHECK_FALSE(
        lint_texts({"-- grant:up transaction=false\nCREATE INDEX CONCURRENTLY i ON orders (day);"}).findings.size());
  }
  SUBCASE("drop-index-without-concurrently") {
    CHECK(reports("DROP INDEX orders_by_day;", "drop-index-without-concurrently"));
    CHECK_FALSE(rules_of(lint_texts({"-- grant:up transaction=false\nDROP INDEX CONCURRENTLY orders_by_day;"}))
                    .count("drop-index-without-concurrently"));
  }
  SUBCASE("reindex-without-concurrently") {
    CHECK(reports("REINDEX TABLE orders;", "reindex-without-concurrently"));
    CHECK(rules_of(lint_texts({"-- grant:up transaction=false\nREINDEX TABLE CONCURRENTLY orders;"})).empty());
  }
  SUBCASE("concurrently-in-transaction") {
    CHECK(reports("CREATE INDEX CONCURRENTLY i ON orders (day);", "concurrently-in-transaction"));
    CHECK(reports("DROP INDEX CONCURRENTLY i;", "concurrently-in-transaction"));
    CHECK(reports("REINDEX INDEX CONCURRENTLY i;", "concurrently-in-transaction"));
    CHECK(
        rules_of(lint_texts({"-- grant:up transaction=false\nCREATE INDEX CONCURRENTLY i ON orders (day);"})).empty());
  }
  SUBCASE("volatile-default") {
    CHECK(reports("ALTER TABLE orders ADD COLUMN token uuid DEFAULT gen_random_uuid();", "volatile-default"));
    CHECK(reports("ALTER TABLE orders ADD COLUMN n bigserial;", "volatile-default"));
    CHECK(reports("ALTER TABLE orders ADD COLUMN total2 numeric GENERATED ALWAYS AS (total * 2) STORED;",
                  "volatile-default"));
    CHECK_FALSE(reports("ALTER TABLE orders ADD COLUMN flag boolean DEFAULT false;", "volatile-default"));
    CHECK_FALSE(reports("ALTER TABLE orders ADD COLUMN at timestamptz DEFAULT now();", "volatile-default"));
  }
  SUBCASE("column-type-change") {
    CHECK(reports("ALTER TABLE orders ALTER COLUMN total TYPE numeric(12,2);", "column-type-change"));
    CHECK_FALSE(reports("ALTER TABLE orders ADD COLUMN total2 numeric(12,2);", "column-type-change"));
  }
  SUBCASE("set-not-null") {
    CHECK(reports("ALTER TABLE orders ALTER COLUMN note SET NOT NULL;", "set-not-null"));
    // Validated in a migration of its own, the CHECK proves it: PostgreSQL 12+ skips the scan.
    CHECK_FALSE(
        rules_of(lint_texts({"-- grant:up lock_timeout=1s\n"
                             "ALTER TABLE orders ADD CONSTRAINT note_nn CHECK (note IS NOT NULL) NOT VALID;",
                             "-- grant:up lock_timeout=1s\nALTER TABLE orders VALIDATE CONSTRAINT note_nn;",
                             "-- grant:up lock_timeout=1s\nALTER TABLE orders ALTER COLUMN note SET NOT NULL;"}))
            .count("set-not-null"));
    // A CHECK that was never validated proves nothing; nor does one validated in the transaction
    // that added it (the scan ran under the ADD's lock).
    CHECK(reports("ALTER TABLE orders ADD CONSTRAINT note_nn CHECK (note IS NOT NULL) NOT VALID;\n"
                  "ALTER TABLE orders ALTER COLUMN note SET NOT NULL;",
                  "set-not-null"));
    CHECK(reports("ALTER TABLE orders ADD CONSTRAINT note_nn CHECK (note IS NOT NULL) NOT VALID;\n"
                  "ALTER TABLE orders VALIDATE CONSTRAINT note_nn;\n"
                  "ALTER TABLE orders ALTER COLUMN note SET NOT NULL;",
                  "set-not-null"));
  }
  SUBCASE("constraint-without-not-valid") {
    CHECK(reports("ALTER TABLE orders ADD CONSTRAINT positive CHECK (total > 0);", "constraint-without-not-valid"));
    CHECK(reports("ALTER TABLE orders ADD CONSTRAINT fk FOREIGN KEY (customer_id) REFERENCES customers (id);",
                  "constraint-without-not-valid"));
    CHECK(rules_of(lint_texts({"-- grant:up lock_timeout=1s\n"
                               "ALTER TABLE orders ADD CONSTRAINT positive CHECK (total > 0) NOT VALID;",
                               "-- grant:up lock_timeout=1s\nALTER TABLE orders VALIDATE CONSTRAINT positive;"}))
              .empty());
    // Validated in the same transaction: the scan runs under the ADD's ACCESS EXCLUSIVE lock.
    CHECK(reports("ALTER TABLE orders ADD CONSTRAINT positive CHECK (total > 0) NOT VALID;\n"
                  "ALTER TABLE orders VALIDATE CONSTRAINT positive;",
                  "constraint-without-not-valid"));
  }
  SUBCASE("unique-without-using-index") {
    CHECK(reports("ALTER TABLE orders ADD CONSTRAINT orders_ref UNIQUE (ref);", "unique-without-using-index"));
    CHECK(reports("ALTER TABLE orders ADD PRIMARY KEY (id);", "unique-without-using-index"));
    CHECK(reports("ALTER TABLE orders ADD COLUMN ref text UNIQUE;", "unique-without-using-index"));
    CHECK_FALSE(reports("ALTER TABLE orders ADD CONSTRAINT orders_ref UNIQUE USING INDEX orders_ref_idx;",
                        "unique-without-using-index"));
  }
  SUBCASE("blocking-command") {
    CHECK(reports("VACUUM FULL orders;", "blocking-command"));
    CHECK(reports("CLUSTER orders USING orders_pkey;", "blocking-command"));
    CHECK(reports("LOCK TABLE orders;", "blocking-command"));
    CHECK(reports("TRUNCATE orders;", "blocking-command"));
    CHECK_FALSE(reports("VACUUM orders;", "blocking-command"));
    CHECK_FALSE(reports("LOCK TABLE orders IN ROW EXCLUSIVE MODE;", "blocking-command"));
    const auto share = lint_sql("LOCK TABLE orders IN SHARE MODE;");
    REQUIRE(share.findings.size() == 1);
    CHECK(share.findings[0].lock == lint::LockMode::share);
  }
  SUBCASE("missing-lock-timeout") {
    const auto bare =
        lint_texts({"-- grant:up\nALTER TABLE orders DROP COLUMN legacy;\nALTER TABLE orders DROP COLUMN old;"});
    CHECK(std::count_if(bare.findings.begin(), bare.findings.end(),
                        [](const lint::Finding& f) { return f.rule == "missing-lock-timeout"; }) == 1);
    CHECK_FALSE(reports("ALTER TABLE orders DROP COLUMN legacy;", "missing-lock-timeout")); // marker lock_timeout=2s
    CHECK_FALSE(rules_of(lint_texts({"-- grant:up\nSET lock_timeout = '3s';\nALTER TABLE orders DROP COLUMN legacy;"}))
                    .count("missing-lock-timeout"));
    CHECK(rules_of(lint_texts({"-- grant:up\nSET lock_timeout = 0;\nALTER TABLE orders DROP COLUMN legacy;"}))
              .count("missing-lock-timeout"));
    // RESET goes back to the session's default (no limit), not to the marker's SET LOCAL.
    CHECK(rules_of(
              lint_texts({"-- grant:up lock_timeout=5s\nRESET lock_timeout;\nALTER TABLE orders ADD COLUMN n text;"}))
              .count("missing-lock-timeout"));
    // Weaker ALTER TABLE forms take no ACCESS EXCLUSIVE.
    CHECK(rules_of(lint_texts({"-- grant:up\nALTER TABLE orders SET (autovacuum_vacuum_scale_factor = 0.01);\n"
                               "ALTER TABLE orders DISABLE TRIGGER orders_audit;"}))
              .empty());
  }
  SUBCASE("many-locked-tables") {
    CHECK(reports("ALTER TABLE orders DROP COLUMN a;\nALTER TABLE invoices DROP COLUMN b;", "many-locked-tables"));
    CHECK_FALSE(reports("ALTER TABLE orders DROP COLUMN a;\nALTER TABLE orders DROP COLUMN b;", "many-locked-tables"));
    CHECK_FALSE(rules_of(lint_texts({"-- grant:up transaction=false lock_timeout=1s\n"
                                     "ALTER TABLE orders DROP COLUMN a;\nALTER TABLE invoices DROP COLUMN b;"}))
                    .count("many-locked-tables"));
  }
  SUBCASE("drop-column") {
    CHECK(reports("ALTER TABLE orders DROP COLUMN legacy;", "drop-column"));
    CHECK_FALSE(reports("CREATE TABLE t (a int, b int);\nALTER TABLE t DROP COLUMN b;", "drop-column"));
  }
  SUBCASE("drop-table") {
    CHECK(reports("DROP TABLE orders;", "drop-table"));
    CHECK_FALSE(reports("CREATE TABLE scratch (a int);\nDROP TABLE scratch;", "drop-table"));
  }
  SUBCASE("rename") {
    CHECK(reports("ALTER TABLE orders RENAME TO purchases;", "rename"));
    CHECK(reports("ALTER TABLE orders RENAME COLUMN total TO amount;", "rename"));
    CHECK_FALSE(reports("ALTER INDEX orders_pkey RENAME TO orders_pk;", "rename"));
  }
  SUBCASE("not-null-without-default") {
    CHECK(reports("ALTER TABLE orders ADD COLUMN must int NOT NULL;", "not-null-without-default"));
    CHECK_FALSE(reports("ALTER TABLE orders ADD COLUMN must int NOT NULL DEFAULT 0;", "not-null-without-default"));
  }
  SUBCASE("shard-key-change") {
    CHECK(reports("ALTER TABLE orders ALTER COLUMN customer_id TYPE text;", "shard-key-change", "orders"));
    CHECK(reports("ALTER TABLE order_items DROP COLUMN customer_id;", "shard-key-change", "orders"));
    CHECK(reports("ALTER TABLE orders RENAME COLUMN customer_id TO client_id;", "shard-key-change", "orders"));
    CHECK_FALSE(reports("ALTER TABLE orders ALTER COLUMN total TYPE bigint;", "shard-key-change", "orders"));
    CHECK_FALSE(reports("ALTER TABLE customers DROP COLUMN customer_id;", "shard-key-change", "orders"));
  }
  SUBCASE("unique-without-shard-key") {
    CHECK(reports("CREATE TABLE orders (id bigint PRIMARY KEY, customer_id bigint);", "unique-without-shard-key",
                  "orders"));
    CHECK(reports("CREATE UNIQUE INDEX ON orders (ref);", "unique-without-shard-key", "orders"));
    CHECK(reports("ALTER TABLE orders ADD CONSTRAINT r UNIQUE (ref);", "unique-without-shard-key", "orders"));
    CHECK(reports("ALTER TABLE orders ADD COLUMN ref text UNIQUE;", "unique-without-shard-key", "orders"));
    CHECK_FALSE(reports("CREATE TABLE orders (id bigint, customer_id bigint, PRIMARY KEY (customer_id, id));",
                        "unique-without-shard-key", "orders"));
    CHECK_FALSE(reports("CREATE TABLE orders (id bigint PRIMARY KEY, customer_id bigint);", "unique-without-shard-key",
                        "primary"));
  }
  SUBCASE("sharded-serial") {
    CHECK(reports("CREATE TABLE orders (id bigserial, customer_id bigint);", "sharded-serial", "orders"));
    CHECK(reports("CREATE TABLE orders (id bigint GENERATED ALWAYS AS IDENTITY, customer_id bigint);", "sharded-serial",
                  "orders"));
    CHECK_FALSE(reports("CREATE TABLE orders (id uuid, customer_id bigint);", "sharded-serial", "orders"));
    const auto with_scheme =
        lint_texts({"-- grant:up\nCREATE TABLE orders (id bigserial, customer_id bigint);"}, "orders",
                   R"({"id_scheme": "each shard's sequence starts at its index and steps by 64"})");
    CHECK_FALSE(rules_of(with_scheme).count("sharded-serial"));
  }
  SUBCASE("differs-per-shard") {
    CHECK(reports("INSERT INTO settings VALUES ('token', gen_random_uuid());", "differs-per-shard", "orders"));
    CHECK(reports("DO $$ BEGIN IF current_database() = 'o0' THEN CREATE TABLE x (a int); END IF; END $$;",
                  "differs-per-shard", "orders"));
    CHECK_FALSE(reports("INSERT INTO settings VALUES ('token', 'abc');", "differs-per-shard", "orders"));
    CHECK_FALSE(reports("INSERT INTO settings VALUES ('token', gen_random_uuid());", "differs-per-shard"));
  }
}

TEST_CASE("lint::rules: the table") {
  for (const auto& rule : lint::rules()) {
    CAPTURE(rule.id);
    CHECK(lint::find_rule(rule.id) == &rule);
    CHECK_FALSE(rule.summary.empty());
  }
  CHECK(lint::find_rule("no-such-rule") == nullptr);
}

TEST_CASE("lint::linter") {
  SUBCASE("a table created earlier in the pending set is no hazard, across migrations") {
    const auto report = lint_texts({"-- grant:up\nCREATE TABLE events (id bigint, at timestamptz);",
                                    "-- grant:up\nCREATE INDEX events_at ON events (at);\n"
                                    "ALTER TABLE events ALTER COLUMN at TYPE timestamp;\nDROP TABLE events;"});
    CHECK(report.findings.empty());
    CHECK(report.migrations == 2);
    CHECK(report.statements == 4);
  }
  SUBCASE("positions are the file's line and column") {
    const auto report = lint_texts({"-- grant:up lock_timeout=1s\n-- a comment\n\n  CREATE INDEX i ON orders (a);"});
    REQUIRE(report.findings.size() == 1);
    CHECK(report.findings[0].line == 4);
    CHECK(report.findings[0].column == 3);
    CHECK(report.findings[0].statement == "CREATE INDEX i ON orders (a)");
    CHECK(report.findings[0].file == "db/migrate/1_m.sql");
    CHECK(report.findings[0].lock == lint::LockMode::share);
  }
  SUBCASE("a marker with a reason silences its statement only") {
    const auto report = lint_texts(
        {"-- grant:up lock_timeout=1s\n-- grant:lint ignore=drop-column reason=\"legacy is unread since v12\"\n"
         "ALTER TABLE orders DROP COLUMN legacy;\nALTER TABLE orders DROP COLUMN other;"});
    REQUIRE(report.findings.size() == 2);
    CHECK(report.findings[0].silenced);
    CHECK_FALSE(report.findings[1].silenced);
    CHECK(report.findings[1].line == 4);
  }
  SUBCASE("a marker without a reason, or naming an unknown rule, is refused with its line") {
    const auto refused = [](const std::string& marker) {
      try {
        lint_texts({"-- grant:up\n" + marker + "\nDROP TABLE orders;"});
      } catch (const ConfigError& error) {
        CHECK(error.where() == "db/migrate/1_m.sql:2");
        return std::string(error.what()) + " | " + error.hint();
      }
      return std::string("not refused");
    };
    CHECK(refused("-- grant:lint ignore=drop-table").find("gives no reason") != std::string::npos);
    CHECK(refused("-- grant:lint ignore=drop-table reason=\"\"").find("gives no reason") != std::string::npos);
    CHECK(refused("-- grant:lint ignore=drop-tabel reason=\"x\"").find("did you mean drop-table?") !=
          std::string::npos);
    CHECK(refused("-- grant:lint reason=\"x\"").find("names no rule") != std::string::npos);
  }
  SUBCASE("SQL the parser rejects is an error at file:line:column") {
    try {
      lint_texts({"-- grant:up\nCREATE TABLE ok (a int);\nCREATE TABEL broken (a int);"});
      FAIL("not refused");
    } catch (const lint::ParseError& error) {
      CHECK(error.where() == "db/migrate/1_m.sql:3:8");
      CHECK(std::string(error.what()).find("syntax error at or near \"TABEL\"") != std::string::npos);
      CHECK(error.exit_code() == 2);
    }
  }
  SUBCASE("SQLite databases are not linted, and say so") {
    const auto report = lint_texts({"-- grant:up\nDROP TABLE orders;"}, "local");
    CHECK(report.findings.empty());
    REQUIRE(report.notes.size() == 1);
    CHECK(report.notes[0].find("not linted") != std::string::npos);
  }
  SUBCASE("fail_on: the config's, or the one given") {
    const auto report = lint_sql("DROP TABLE orders;");
    CHECK_FALSE(lint::fails(report)); // a warning, and lint.fail_on defaults to error
    CHECK(lint::fails(report, std::string("warning")));
    CHECK_FALSE(lint::fails(report, std::string("none")));
    const auto strict =
        lint_texts({"-- grant:up lock_timeout=1s\nDROP TABLE orders;"}, "primary", R"({"fail_on": "warning"})");
    CHECK(lint::fails(strict));
  }
}

TEST_CASE("lint::locks_conflict follows PostgreSQL's table") {
  using lint::LockMode;
  CHECK(lint::locks_conflict(LockMode::access_share, LockMode::access_exclusive));
  CHECK_FALSE(lint::locks_conflict(LockMode::access_share, LockMode::share));
  CHECK(lint::locks_conflict(LockMode::row_exclusive, LockMode::share));
  CHECK_FALSE(lint::locks_conflict(LockMode::row_exclusive, LockMode::share_update_exclusive));
  CHECK(lint::locks_conflict(LockMode::share_update_exclusive, LockMode::share_update_exclusive));
  CHECK_FALSE(lint::locks_conflict(LockMode::share, LockMode::share));
  CHECK(lint::locks_conflict(LockMode::share, LockMode::row_exclusive));
  CHECK(lint::locks_conflict(LockMode::exclusive, LockMode::row_share));
  CHECK_FALSE(lint::locks_conflict(LockMode::exclusive, LockMode::access_share));
  for (int held = 1; held <= 8; ++held) {
    for (int wanted = 1; wanted <= 8; ++wanted) {
      CAPTURE(held);
      CAPTURE(wanted);
      CHECK(lint::locks_conflict(static_cast<LockMode>(held), static_cast<LockMode>(wanted)) ==
            lint::locks_conflict(static_cast<LockMode>(wanted), static_cast<LockMode>(held)));
    }
  }
  CHECK(lint::lock_from_pg_locks("ShareRowExclusiveLock") == LockMode::share_row_exclusive);
  CHECK(lint::lock_name(LockMode::access_exclusive) == "ACCESS EXCLUSIVE");
}

} // namespace grant_test_lint_rules_test
