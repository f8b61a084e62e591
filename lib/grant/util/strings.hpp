#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace grant::util {

std::vector<std::string> split(std::string_view text, char separator);
std::string_view trim(std::string_view text);
bool starts_with(std::string_view text, std::string_view prefix);
bool ends_with(std::string_view text, std::string_view suffix);
std::string join(const std::vector<std::string>& parts, std::string_view separator);
std::string to_lower(std::string_view text);

/// Levenshtein distance, for "did you mean" suggestions.
std::size_t edit_distance(std::string_view a, std::string_view b);

/// The closest candidate to `word` if it is close enough to be a likely typo, else "".
std::string closest_match(std::string_view word, const std::vector<std::string>& candidates);

/// True when `text` is valid UTF-8.
bool is_valid_utf8(std::string_view text);

/// Quote for display in messages: 'value'.
std::string in_quotes(std::string_view text);

} // namespace grant::util
