// A grant-postgres.so from another release, for tests/cli/modules_cli_test.cpp. A fake, because
// no build of this tree can produce a module of another version: it has only the entry point the
// program asks first, and says it is 0.0.0.
extern "C" const char* grant_module_version_postgres() {
  return "0.0.0";
}
