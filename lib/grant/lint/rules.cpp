#include <grant/lint/rules.hpp>

namespace grant::lint {

const std::vector<Rule>& rules() {
  static const std::vector<Rule> k_rules{
      // Locks and rewrites on tables that already exist.
      {"index-without-concurrently", Severity::warning, "locks",
       "CREATE INDEX without CONCURRENTLY blocks writes to the table while the index builds", true},
      {"drop-index-without-concurrently", Severity::warning, "locks",
       "DROP INDEX without CONCURRENTLY takes ACCESS EXCLUSIVE on the index's table", true},
      {"reindex-without-concurrently", Severity::warning, "locks",
       "REINDEX without CONCURRENTLY blocks writes (and reads that use the index) while it runs", true},
      {"concurrently-in-transaction", Severity::error, "locks",
       "what PostgreSQL runs only outside a transaction block (CREATE/DROP INDEX CONCURRENTLY, REINDEX "
       "CONCURRENTLY, VACUUM, REINDEX SCHEMA/DATABASE/SYSTEM) fails in a transactional section",
       false},
      {"volatile-default", Severity::warning, "locks",
       "ADD COLUMN with a volatile default, a serial or identity type, or a stored generated column "
       "rewrites the table under ACCESS EXCLUSIVE",
       true},
      {"column-type-change", Severity::warning, "locks",
       "ALTER COLUMN TYPE rewrites the table and its indexes under ACCESS EXCLUSIVE", true},
      {"set-not-null", Severity::warning, "locks",
       "SET NOT NULL scans the table under ACCESS EXCLUSIVE unless a validated CHECK proves it", true},
      {"constraint-without-not-valid", Severity::warning, "locks",
       "ADD CONSTRAINT CHECK or FOREIGN KEY without NOT VALID checks every row while holding the lock", true},
      {"unique-without-using-index", Severity::warning, "locks",
       "ADD PRIMARY KEY or UNIQUE builds its index under ACCESS EXCLUSIVE; build it concurrently first", true},
      {"blocking-command", Severity::warning, "locks",
       "VACUUM FULL, CLUSTER, LOCK TABLE and TRUNCATE hold ACCESS EXCLUSIVE on the table", true},
      {"missing-lock-timeout", Severity::warning, "locks",
       "a statement waits for ACCESS EXCLUSIVE with no lock_timeout, and every query queues behind it", false},
      {"many-locked-tables", Severity::warning, "locks",
       "one transaction takes strong locks on several existing tables and holds them all to its end", false},
      // Changes that break the application running against the old schema.
      {"drop-column", Severity::warning, "compatibility",
       "DROP COLUMN breaks the running application's queries that still name the column", false},
      {"drop-table", Severity::warning, "compatibility", "DROP TABLE breaks the running application and loses the data",
       false},
      {"rename", Severity::warning, "compatibility",
       "renaming a table or column breaks the running application's queries that use the old name", false},
      {"not-null-without-default", Severity::warning, "compatibility",
       "ADD COLUMN NOT NULL without a default fails on a table that has rows", false},
      // What only a fleet has.
      {"shard-key-change", Severity::error, "fleet",
       "changing, renaming or dropping the shard-key column of a sharded table strands its rows", false},
      {"unique-without-shard-key", Severity::warning, "fleet",
       "a UNIQUE or PRIMARY KEY on a sharded table that leaves out the shard key cannot hold across shards", false},
      {"sharded-serial", Severity::warning, "fleet",
       "a serial or identity column on a sharded table gives the same ids on every shard", false},
      {"differs-per-shard", Severity::warning, "fleet",
       "a statement whose effect depends on the server (random values, current_database(), DO blocks that "
       "branch on them) leaves the shards different",
       false},
  };
  return k_rules;
}

const Rule* find_rule(std::string_view id) {
  for (const auto& rule : rules()) {
    if (rule.id == id) {
      return &rule;
    }
  }
  return nullptr;
}

} // namespace grant::lint
