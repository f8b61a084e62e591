#!/bin/sh
# What help2man reads for one man page: `man_help.sh GRANT COMMAND... --help`. One command
# prints its own --help; several (a family, such as migrate + rollback + ...) print one Usage
# block listing them all, then a section per command holding its --help, indented so that
# help2man keeps CLI11's "Options:" and "Examples:" inside that section. A command of two words
# is written with a colon: config:check.
set -eu
grant=$1
shift
commands=
for arg in "$@"; do
  case $arg in
    --help) ;;
    --version) exec "$grant" --version ;;
    *) commands="$commands $arg" ;;
  esac
done
# In an Examples block, a command with no two-space-separated description is followed by an
# empty line: help2man would otherwise join consecutive lines into one paragraph.
examples() {
  awk '
    /^ *Examples?( \(.*\))?:$/ { print; inex = 1; next }
    inex && /^  / {
      print
      line = $0; sub(/^ +/, "", line)
      if (line !~ /[^ ]  +[^ ]/) print ""
      next
    }
    { inex = 0; print }'
}
# shellcheck disable=SC2086
set -- $commands
if [ $# -le 1 ]; then
  # shellcheck disable=SC2046
  "$grant" $(echo "${1:-}" | tr : ' ') --help | examples
  exit 0
fi
prefix="Usage:"
for command in "$@"; do
  # shellcheck disable=SC2046
  "$grant" $(echo "$command" | tr : ' ') --help | sed -n "s/^Usage: /$prefix /p"
  prefix="  or: "
done
echo
for command in "$@"; do
  words=$(echo "$command" | tr : ' ')
  echo "grant $words:"
  # shellcheck disable=SC2086
  "$grant" $words --help | sed -e '/^Usage: /d' -e 's/^/  /' | examples
  echo
done
