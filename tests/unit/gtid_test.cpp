// MariaDB GTID positions: when a replica's @@gtid_slave_pos has reached the writer's
// @@gtid_binlog_pos (grant migrate --wait-replicas on MariaDB).
#include <grant/util/gtid.hpp>

#include <doctest/doctest.h>

namespace grant_test_gtid_test {

using grant::util::gtid_position_reached;
using grant::util::gtid_transactions_behind;

TEST_CASE("gtid: a position is reached per domain, by sequence, whatever the server id") {
  CHECK(gtid_position_reached("0-1-42", "0-1-42"));
  CHECK(gtid_position_reached("0-1-42", "0-1-43"));
  CHECK_FALSE(gtid_position_reached("0-1-42", "0-1-41"));
  CHECK(gtid_position_reached("0-1-42", "0-2-50")); // after a failover the domain goes on
  CHECK(gtid_position_reached("0-1-42,1-3-7", "1-3-7, 0-1-42"));
  CHECK_FALSE(gtid_position_reached("0-1-42,1-3-7", "0-1-42")); // domain 1 not replayed at all
  CHECK(gtid_position_reached("0-1-42", "0-1-42,5-9-1"));       // more domains on the replica
  CHECK(gtid_position_reached("0-1-18446744073709551615", "0-1-18446744073709551615"));
  CHECK(gtid_position_reached("", "0-1-1")); // nothing written yet
  CHECK(gtid_position_reached("", ""));
}

TEST_CASE("gtid: text that is not a position never counts as reached") {
  CHECK_FALSE(gtid_position_reached("0-1-42", ""));
  CHECK_FALSE(gtid_position_reached("0/3000060", "0/3000060"));                            // a PostgreSQL LSN
  CHECK_FALSE(gtid_position_reached("3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5", "0-1-9")); // MySQL 8
  CHECK_FALSE(gtid_position_reached("0-1-42", "0-1-x"));
  CHECK_FALSE(gtid_position_reached("0-1", "0-1-42"));
  CHECK_FALSE(gtid_position_reached("0-1-42", "0--42"));
  CHECK_FALSE(gtid_position_reached("0-1-99999999999999999999", "0-1-1")); // past 64 bits
}

TEST_CASE("gtid: transactions behind, summed over the writer's domains") {
  CHECK(gtid_transactions_behind("0-1-42", "0-1-42") == 0U);
  CHECK(gtid_transactions_behind("0-1-42", "0-1-40") == 2U);
  CHECK(gtid_transactions_behind("0-1-42", "0-1-50") == 0U);       // never negative
  CHECK(gtid_transactions_behind("0-1-42,1-3-7", "0-1-41") == 8U); // domain 1 not replayed at all: 7
  CHECK(gtid_transactions_behind("", "0-1-9") == 0U);
  CHECK_FALSE(gtid_transactions_behind("0-1-42", "nonsense").has_value());
}

} // namespace grant_test_gtid_test
