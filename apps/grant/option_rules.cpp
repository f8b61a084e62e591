#include <grant/option_rules.hpp>

#include <grant/flag_checks.hpp>

#include <grant/util/strings.hpp>

#include <stdexcept>
#include <vector>

namespace grant::cli {

namespace {

bool has_validator(CLI::Option& option, const std::string& name) {
  try {
    return option.get_validator(name) != nullptr;
  } catch (const CLI::OptionNotFound&) {
    return false;
  }
}

bool takes_number(const CLI::Option& option) {
  const auto type = option.get_type_name();
  for (const char* numeric : {"INT", "UINT", "FLOAT", "NUMBER"}) {
    if (type.rfind(numeric, 0) == 0) {
      return true;
    }
  }
  return false;
}

std::string command_path(const CLI::App& app) {
  std::string out = app.get_name();
  for (const auto* parent = app.get_parent(); parent != nullptr && parent->get_parent() != nullptr;
       parent = parent->get_parent()) {
    out = parent->get_name() + " " + out;
  }
  return out;
}

void enforce(CLI::App& app) {
  for (auto* option : app.get_options()) {
    if (option->get_expected_max() == 0) {
      continue; // a flag: it takes no value
    }
    if (takes_number(*option) && !has_validator(*option, k_number_check)) {
      throw std::logic_error("option " + option->get_name() + " of '" + command_path(app) +
                             "' takes a number without a bounds check from flag_checks.hpp");
    }
    if (!has_validator(*option, k_handles_empty)) {
      // transform() puts it first, before any check of the value's form.
      option->transform(CLI::Validator(
          [](std::string& value) {
            return value.empty() ? std::string("an empty value is not allowed (leave the option out instead)")
                                 : std::string();
          },
          ""));
    }
  }
  for (auto* sub : app.get_subcommands([](CLI::App*) { return true; })) {
    enforce(*sub);
  }
}

std::vector<std::string> command_names(const CLI::App& app) {
  std::vector<std::string> out;
  for (const auto* sub : app.get_subcommands([](const CLI::App*) { return true; })) {
    out.push_back(sub->get_name());
  }
  return out;
}

// Whether `option` of `app` (or of a parent whose options fall through) takes a value.
bool option_takes_value(const CLI::App& app, const std::string& token) {
  if (token.find('=') != std::string::npos) {
    return false; // --config=path carries its value
  }
  for (const auto* level = &app; level != nullptr; level = level->get_parent()) {
    for (const auto* option : level->get_options()) {
      if (option->check_name(token)) {
        return option->get_expected_max() > 0;
      }
    }
  }
  return false;
}

} // namespace

void enforce_option_rules(CLI::App& app) {
  enforce(app);
}

std::optional<std::string> unknown_command(const CLI::App& app, int argc, const char* const* argv) {
  const CLI::App* level = &app;
  std::string path = "grant";
  for (int i = 1; i < argc; ++i) {
    const std::string token = argv[i];
    if (token == "--") {
      return std::nullopt;
    }
    if (token.size() > 1 && token[0] == '-') {
      if (option_takes_value(*level, token)) {
        ++i;
      }
      continue;
    }
    const auto names = command_names(*level);
    if (names.empty()) {
      return std::nullopt; // a positional argument of a command: not ours to judge
    }
    const CLI::App* next = nullptr;
    for (const auto* sub : level->get_subcommands([](const CLI::App*) { return true; })) {
      if (sub->check_name(token)) {
        next = sub;
      }
    }
    if (next == nullptr) {
      const auto suggestion = util::closest_match(token, names);
      return "unknown command " + util::in_quotes(token) + (level == &app ? "" : " for '" + path + "'") +
             (suggestion.empty() ? "; the commands are: " + util::join(names, ", ")
                                 : "; did you mean " + util::in_quotes(suggestion) + "?");
    }
    level = next;
    path += " " + next->get_name();
  }
  return std::nullopt;
}

} // namespace grant::cli
