// grant completion bash|zsh|fish: completion scripts generated from the command tree itself, so
// they cannot drift from the CLI. Subcommands, flags, the values a flag accepts (CLI11's
// IsMember sets), files for --config, and database names read from the config when the user
// presses tab (`grant completion --list-databases`).
#include <grant/commands.hpp>
#include <grant/context.hpp>

#include <grant/error.hpp>
#include <grant/version.hpp>

#include <algorithm>
#include <functional>
#include <iostream>
#include <memory>
#include <sstream>

namespace grant::cli {

namespace {

struct Flag {
  std::vector<std::string> names; ///< "--database", "-q"
  std::string description;
  bool takes_value = false;
  std::vector<std::string> choices; ///< from "TEXT:{table,csv,json}"
  bool is_database = false;
  bool is_path = false;
};

struct Node {
  std::string name;
  std::string path; ///< "config/check"; "" for the root
  std::string description;
  std::vector<Flag> flags;
  std::vector<Node> children;
};

std::vector<std::string> choices_of(const std::string& type_name) {
  const auto open = type_name.find('{');
  const auto close = type_name.find('}', open);
  if (open == std::string::npos || close == std::string::npos) {
    return {};
  }
  std::vector<std::string> out;
  std::stringstream list(type_name.substr(open + 1, close - open - 1));
  for (std::string item; std::getline(list, item, ',');) {
    out.push_back(item);
  }
  return out;
}

Node tree_of(const CLI::App& app, const std::string& parent_path) {
  Node node;
  node.name = app.get_name();
  node.path = parent_path.empty() ? (app.get_parent() == nullptr ? "" : node.name) : parent_path + "/" + node.name;
  node.description = app.get_description();
  for (const auto* option : app.get_options()) {
    if (!option->nonpositional()) {
      continue;
    }
    Flag flag;
    for (const auto& name : option->get_lnames()) {
      flag.names.push_back("--" + name);
    }
    for (const auto& name : option->get_snames()) {
      flag.names.push_back("-" + name);
    }
    flag.description = option->get_description();
    flag.takes_value = option->get_expected_max() > 0; // a flag expects no value
    flag.choices = choices_of(option->get_type_name());
    const auto& lnames = option->get_lnames();
    flag.is_database = std::find(lnames.begin(), lnames.end(), "database") != lnames.end();
    flag.is_path = std::find(lnames.begin(), lnames.end(), "config") != lnames.end();
    node.flags.push_back(std::move(flag));
  }
  for (const auto* child : app.get_subcommands([](const CLI::App*) { return true; })) {
    node.children.push_back(tree_of(*child, node.path));
  }
  return node;
}

void each_node(const Node& node, const std::function<void(const Node&)>& visit) {
  visit(node);
  for (const auto& child : node.children) {
    each_node(child, visit);
  }
}

// True for a flag of the root command (the global flags, and --help), offered everywhere.
bool is_global(const Node& root, const std::string& name) {
  return std::any_of(root.flags.begin(), root.flags.end(), [&](const Flag& flag) {
    return std::find(flag.names.begin(), flag.names.end(), name) != flag.names.end();
  });
}

std::string single_quoted(const std::string& text) {
  std::string out = "'";
  for (const char c : text) {
    out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  }
  return out + "'";
}

// The lines of a case that follows the command path: "$cmdpath/$word" names a child.
std::string path_patterns(const Node& root) {
  std::string out;
  each_node(root, [&](const Node& node) {
    if (!node.path.empty()) {
      const auto slash = node.path.rfind('/');
      const std::string parent = slash == std::string::npos ? "" : node.path.substr(0, slash);
      out += (out.empty() ? "" : "|") + ("\"" + parent + "/" + node.name + "\"");
    }
  });
  return out;
}

// The loop (bash and zsh alike) that walks the words typed before the cursor, from index `first`
// up to `limit`, and leaves in $cmdpath the command they name ("config/check").
std::string path_loop(const Node& root, const std::string& first, const std::string& limit, const std::string& words) {
  return "  for ((i = " + first + "; i < " + limit +
         "; i++)); do\n"
         "    word=${" +
         words +
         "[i]}\n"
         "    case \"$cmdpath/$word\" in\n"
         "      " +
         path_patterns(root) +
         ") cmdpath=${cmdpath:+$cmdpath/}$word ;;\n"
         "    esac\n"
         "  done\n";
}

std::string joined(const std::vector<std::string>& words) {
  std::string out;
  for (const auto& word : words) {
    out += (out.empty() ? "" : " ") + word;
  }
  return out;
}

// The lines of a `case "$cmdpath|$prev"` (bash and zsh alike): for every flag that takes a value,
// its patterns (the command's path and the flag; any path for a global flag) and what the shell
// does there. The commands' own flags come first, so that they win over a global one.
std::string value_cases(const Node& root, const std::function<std::string(const Flag&)>& action) {
  std::string out;
  const auto cases = [&](const Node& node, bool any_path) {
    for (const auto& flag : node.flags) {
      if (!flag.takes_value) {
        continue;
      }
      std::string patterns;
      for (const auto& name : flag.names) {
        patterns +=
            (patterns.empty() ? "" : "|") + (any_path ? "*\"|" + name + "\"" : "\"" + node.path + "|" + name + "\"");
      }
      out += "    " + patterns + ") " + action(flag) + "\n";
    }
  };
  each_node(root, [&](const Node& node) {
    if (!node.path.empty()) {
      cases(node, false);
    }
  });
  cases(root, true);
  return out;
}

// The lines of a `case $cmdpath` (bash and zsh alike): per command, what may come next (its
// subcommands, its own flags, then the global ones), each through `render(word, description)`,
// between `open` and `close`.
std::string word_cases(const Node& root,
                       const std::function<std::string(const std::string&, const std::string&)>& render,
                       const std::string& open, const std::string& close) {
  std::string globals;
  for (const auto& flag : root.flags) {
    for (const auto& name : flag.names) {
      globals += " " + render(name, flag.description);
    }
  }
  std::string out;
  each_node(root, [&](const Node& node) {
    std::string words;
    for (const auto& child : node.children) {
      words += " " + render(child.name, child.description);
    }
    if (!node.path.empty()) {
      for (const auto& flag : node.flags) {
        for (const auto& name : flag.names) {
          if (!is_global(root, name)) {
            words += " " + render(name, flag.description);
          }
        }
      }
    }
    out += "    \"" + node.path + "\") " + open + words + globals + close + "\n";
  });
  return out;
}

std::string bash_script(const Node& root) {
  std::string s = "# bash completion for grant, generated by `grant completion bash` (grant " GRANT_VERSION ")\n"
                  "# Install: grant completion bash > /usr/share/bash-completion/completions/grant\n"
                  "# or, for one shell: source <(grant completion bash)\n\n";
  s += "_grant_databases() {\n"
       "  local args=() i\n"
       "  for ((i = 1; i < COMP_CWORD; i++)); do\n"
       "    [[ ${COMP_WORDS[i]} == --config ]] && args=(--config \"${COMP_WORDS[i + 1]}\")\n"
       "  done\n"
       "  grant \"${args[@]}\" completion --list-databases 2>/dev/null\n"
       "}\n\n"
       "_grant() {\n"
       "  local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD - 1]} cmdpath= i word words\n" +
       path_loop(root, "1", "COMP_CWORD", "COMP_WORDS") + "  case \"$cmdpath|$prev\" in\n";
  s += value_cases(root, [](const Flag& flag) {
    if (flag.is_path) {
      return std::string("COMPREPLY=($(compgen -f -- \"$cur\")); return 0 ;;");
    }
    if (flag.is_database) {
      return std::string("COMPREPLY=($(compgen -W \"$(_grant_databases)\" -- \"$cur\")); return 0 ;;");
    }
    if (!flag.choices.empty()) {
      return "COMPREPLY=($(compgen -W \"" + joined(flag.choices) + "\" -- \"$cur\")); return 0 ;;";
    }
    return std::string("return 0 ;; # a value of the user's own");
  });
  s += "  esac\n  case $cmdpath in\n";
  s += word_cases(
      root, [](const std::string& word, const std::string&) { return word; }, "words=\"", "\" ;;");
  s += "  esac\n"
       "  COMPREPLY=($(compgen -W \"$words\" -- \"$cur\"))\n"
       "}\n\n"
       "complete -F _grant grant\n";
  return s;
}

// zsh: the same table through zsh's own _describe / _files / compadd, with descriptions.
std::string zsh_script(const Node& root) {
  // word:description for _describe; a colon inside the description is escaped.
  const auto item = [](const std::string& word, const std::string& description) {
    std::string out = word + ":";
    for (const char c : description) {
      out += c == ':' ? std::string("\\:") : std::string(1, c);
    }
    return single_quoted(out);
  };
  std::string s =
      "#compdef grant\n# zsh completion for grant, generated by `grant completion zsh` (grant " GRANT_VERSION ")\n"
      "# Install: grant completion zsh > /usr/share/zsh/vendor-completions/_grant\n\n"
      "_grant_databases() {\n"
      "  local -a names\n"
      "  local i config=()\n"
      "  for ((i = 2; i < CURRENT; i++)); do [[ ${words[i]} == --config ]] && config=(--config ${words[i + 1]}); done\n"
      "  names=(${(f)\"$(grant $config completion --list-databases 2>/dev/null)\"})\n"
      "  compadd -a names\n"
      "}\n\n"
      "_grant() {\n"
      "  local prev=${words[CURRENT - 1]} cmdpath= i word\n"
      "  local -a items\n" +
      path_loop(root, "2", "CURRENT", "words") + "  case \"$cmdpath|$prev\" in\n";
  s += value_cases(root, [](const Flag& flag) {
    if (flag.is_path) {
      return std::string("_files; return ;;");
    }
    if (flag.is_database) {
      return std::string("_grant_databases; return ;;");
    }
    if (!flag.choices.empty()) {
      return "compadd " + joined(flag.choices) + "; return ;;";
    }
    return std::string("return ;;");
  });
  s += "  esac\n  case $cmdpath in\n";
  s += word_cases(root, item, "items=(", ") ;;");
  s += "  esac\n  _describe 'grant' items\n}\n\n_grant \"$@\"\n";
  return s;
}

// fish: one `complete` line per subcommand and flag, each under the condition of its command.
std::string fish_script(const Node& root) {
  std::string s = "# fish completion for grant, generated by `grant completion fish` (grant " GRANT_VERSION ")\n"
                  "# Install: grant completion fish > ~/.config/fish/completions/grant.fish\n\n"
                  "complete -c grant -f\n";
  const auto flag_line = [](const std::string& condition, const Flag& flag) {
    std::string line = "complete -c grant";
    if (!condition.empty()) {
      line += " -n " + single_quoted(condition);
    }
    for (const auto& name : flag.names) {
      line += name.rfind("--", 0) == 0 ? " -l " + name.substr(2) : " -s " + name.substr(1);
    }
    if (flag.takes_value) {
      line += flag.is_path ? " -r -F" : " -x"; // -x: a value, and no file names for it
      if (flag.is_database) {
        line += " -a '(grant completion --list-databases 2>/dev/null)'";
      } else if (!flag.choices.empty()) {
        std::string words;
        for (const auto& choice : flag.choices) {
          words += (words.empty() ? "" : " ") + choice;
        }
        line += " -a " + single_quoted(words);
      }
    }
    return line + " -d " + single_quoted(flag.description) + "\n";
  };
  for (const auto& flag : root.flags) {
    s += flag_line("", flag);
  }
  each_node(root, [&](const Node& node) {
    std::string names;
    for (const auto& child : node.children) {
      names += " " + child.name;
    }
    const std::string seen = node.path.empty()
                                 ? "__fish_use_subcommand"
                                 : "__fish_seen_subcommand_from " + node.name +
                                       (names.empty() ? "" : "; and not __fish_seen_subcommand_from" + names);
    for (const auto& child : node.children) {
      s += "complete -c grant -n " + single_quoted(seen) + " -a " + child.name + " -d " +
           single_quoted(child.description) + "\n";
    }
    if (!node.path.empty()) {
      for (const auto& flag : node.flags) {
        s += flag_line("__fish_seen_subcommand_from " + node.name, flag);
      }
    }
  });
  return s;
}

} // namespace

void setup_completion(CLI::App& app, Context& context) {
  auto* command = app.add_subcommand("completion", "Print a shell completion script (bash, zsh or fish)");
  auto shell = std::make_shared<std::string>();
  auto list_databases = std::make_shared<bool>(false);
  command->add_option("shell", *shell, "bash, zsh or fish")->check(CLI::IsMember({"bash", "zsh", "fish"}));
  command->add_flag("--list-databases", *list_databases,
                    "Print the config's database names, one per line (what the scripts offer after --database)");
  command->footer("Examples:\n"
                  "  source <(grant completion bash)                       this shell\n"
                  "  grant completion bash > /etc/bash_completion.d/grant  every bash\n"
                  "  grant completion zsh > \"${fpath[1]}/_grant\"           zsh\n"
                  "  grant completion fish > ~/.config/fish/completions/grant.fish");
  command->callback([&app, &context, shell, list_databases] {
    if (*list_databases) {
      for (const auto& name : context.config().database_names()) {
        std::cout << name << '\n';
      }
      return;
    }
    if (shell->empty()) {
      throw ConfigError("which shell?", "grant completion", "grant completion bash (or zsh, fish)");
    }
    const auto root = tree_of(app, "");
    std::cout << (*shell == "bash" ? bash_script(root) : *shell == "zsh" ? zsh_script(root) : fish_script(root));
  });
}

} // namespace grant::cli
