// The bad input corpus: every folder under tests/bad_input/ is one case (docs/testing.md). A new
// case is a new folder; this file does not change.

#include "support/support.hpp"

#include <grant/util/sha256.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace fs = std::filesystem;

namespace grant::test {

namespace {

// Every case that plants a password uses this one, so the test can look for it in any output.
constexpr std::string_view k_password = "s3cr3t-bad-input";

// Files of a case that describe the run; everything else is the project.
const std::set<std::string> k_meta_files{"args", "expected_stderr", "expected_exit", "expected_stdout", "env", "stdin"};

struct Entry {
  bool folder = false;
  std::uintmax_t size = 0;
  std::string sha256;
  bool operator==(const Entry&) const = default;
};
using Snapshot = std::map<std::string, Entry>;

Snapshot snapshot(const fs::path& root) {
  Snapshot out;
  for (const auto& entry : fs::recursive_directory_iterator(root)) {
    const auto name = fs::relative(entry.path(), root).generic_string();
    if (entry.is_directory()) {
      out[name] = Entry{true, 0, {}};
    } else {
      const auto content = read_file(entry.path());
      out[name] = Entry{false, content.size(), util::sha256_hex(content)};
    }
  }
  return out;
}

std::string describe_difference(const Snapshot& before, const Snapshot& after) {
  std::string out;
  for (const auto& [name, entry] : after) {
    const auto it = before.find(name);
    if (it == before.end()) {
      out += " created " + name + ";";
    } else if (!(it->second == entry)) {
      out += " changed " + name + ";";
    }
  }
  for (const auto& [name, entry] : before) {
    if (after.count(name) == 0) {
      out += " removed " + name + ";";
    }
  }
  return out;
}

std::string replace_all(std::string text, std::string_view from, std::string_view to) {
  for (auto pos = text.find(from); pos != std::string::npos; pos = text.find(from, pos + to.size())) {
    text.replace(pos, from.size(), to);
  }
  return text;
}

// One argument per line; the newline that ends the file ends the last argument.
std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start < text.size()) {
    auto end = text.find('\n', start);
    if (end == std::string::npos) {
      end = text.size();
    }
    out.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

std::string trimmed(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) {
    text.pop_back();
  }
  return text;
}

struct Case {
  std::string name;
  fs::path folder;
};

std::vector<Case> cases() {
  std::vector<Case> out;
  for (const auto& entry : fs::directory_iterator(fs::path(GRANT_SOURCE_DIR) / "tests/bad_input")) {
    if (entry.is_directory()) {
      out.push_back({entry.path().filename().string(), entry.path()});
    }
  }
  std::sort(out.begin(), out.end(), [](const Case& a, const Case& b) { return a.name < b.name; });
  return out;
}

void run_case(const Case& item) {
  INFO("bad input case: ", item.name);
  REQUIRE_MESSAGE(fs::exists(item.folder / "args"), item.name, ": no args file");
  REQUIRE_MESSAGE(fs::exists(item.folder / "expected_stderr"), item.name, ": no expected_stderr file");
  REQUIRE_MESSAGE(fs::exists(item.folder / "expected_exit"), item.name, ": no expected_exit file");

  TempDir project;
  const auto dir = fs::canonical(project.path());
  for (const auto& entry : fs::directory_iterator(item.folder)) {
    if (k_meta_files.count(entry.path().filename().string()) == 0) {
      fs::copy(entry.path(), dir / entry.path().filename(), fs::copy_options::recursive);
    }
  }
  const auto substitute = [&](const std::string& text) { return replace_all(text, "{dir}", dir.string()); };

  std::vector<std::string> args;
  for (const auto& arg : lines_of(read_file(item.folder / "args"))) {
    args.push_back(substitute(arg));
  }
  // GRANT_CONFIG from the developer's shell must not pick another config.
  std::map<std::string, std::optional<std::string>> env{{"GRANT_CONFIG", std::nullopt}, {"NO_COLOR", "1"}};
  if (fs::exists(item.folder / "env")) {
    for (const auto& line : lines_of(read_file(item.folder / "env"))) {
      const auto eq = line.find('=');
      if (eq == std::string::npos) {
        env[line] = std::nullopt; // a bare name: unset it
      } else {
        env[line.substr(0, eq)] = substitute(line.substr(eq + 1));
      }
    }
  }
  const std::string stdin_text = fs::exists(item.folder / "stdin") ? read_file(item.folder / "stdin") : "";
  const auto expected_exit = std::stoi(read_file(item.folder / "expected_exit"));
  const auto expected_stderr = substitute(read_file(item.folder / "expected_stderr"));
  const auto expected_stdout =
      fs::exists(item.folder / "expected_stdout") ? substitute(read_file(item.folder / "expected_stdout")) : "";

  const auto before = snapshot(dir);
  const auto result = run_grant(args, dir, env, stdin_text);
  const auto after = snapshot(dir);

  CHECK_MESSAGE(result.exit_code == expected_exit, item.name, ": exit ", result.exit_code, ", expected ", expected_exit,
                "\nstderr:\n", result.err);
  CHECK_MESSAGE(result.err == expected_stderr, item.name, ": stderr differs\n--- expected\n", expected_stderr,
                "--- got\n", result.err, "---");
  CHECK_MESSAGE(trimmed(result.out) == trimmed(expected_stdout), item.name, ": stdout differs\n--- expected\n",
                expected_stdout, "--- got\n", result.out, "---");
  CHECK_MESSAGE(result.err.find(k_password) == std::string::npos, item.name, ": the password is on stderr");
  CHECK_MESSAGE(result.out.find(k_password) == std::string::npos, item.name, ": the password is on stdout");
  CHECK_MESSAGE(result.err.find("s3cr3t") == std::string::npos, item.name, ": part of the password is on stderr");
  CHECK_MESSAGE(before == after, item.name, ": the run wrote to the project:", describe_difference(before, after));
}

} // namespace

TEST_CASE("cli: bad input corpus (tests/bad_input)") {
  const auto all = cases();
  REQUIRE(all.size() >= 40);
  for (const auto& item : all) {
    run_case(item);
  }
}

} // namespace grant::test
