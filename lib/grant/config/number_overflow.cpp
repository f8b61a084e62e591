#include <grant/config/number_overflow.hpp>

#include <nlohmann/json.hpp>

#include <vector>

namespace grant::config {

namespace {

using Json = nlohmann::ordered_json;

// Follows the key path through the document; stops at the first error.
class Locator : public nlohmann::json_sax<Json> {
public:
  std::optional<NumberOverflow> found;

  bool null() override { return value(); }
  bool boolean(bool /*value*/) override { return value(); }
  bool number_integer(number_integer_t /*value*/) override { return value(); }
  bool number_unsigned(number_unsigned_t /*value*/) override { return value(); }
  bool number_float(number_float_t /*value*/, const string_t& /*text*/) override { return value(); }
  bool string(string_t& /*value*/) override { return value(); }
  bool binary(binary_t& /*value*/) override { return value(); }
  bool start_object(std::size_t /*size*/) override { return open(false); }
  bool key(string_t& name) override {
    m_frames.back().key = name;
    return true;
  }
  bool end_object() override { return close(); }
  bool start_array(std::size_t /*size*/) override { return open(true); }
  bool end_array() override { return close(); }

  bool parse_error(std::size_t position, const std::string& last_token,
                   const nlohmann::detail::exception& error) override {
    if (error.id == 406) {
      found = NumberOverflow{position, path(), last_token};
    }
    return false;
  }

private:
  struct Frame {
    bool is_array = false;
    std::size_t index = 0;
    std::string key;
  };

  bool open(bool is_array) {
    m_frames.push_back(Frame{is_array, 0, {}});
    return true;
  }
  bool close() {
    m_frames.pop_back();
    return value();
  }
  bool value() {
    if (!m_frames.empty() && m_frames.back().is_array) {
      ++m_frames.back().index;
    }
    return true;
  }
  std::string path() const {
    std::string out;
    for (const auto& frame : m_frames) {
      out += frame.is_array ? "[" + std::to_string(frame.index) + "]" : (out.empty() ? "" : ".") + frame.key;
    }
    return out.empty() ? "(top level)" : out;
  }

  std::vector<Frame> m_frames;
};

} // namespace

std::optional<NumberOverflow> find_number_overflow(std::string_view text) {
  Locator locator;
  Json::sax_parse(text.begin(), text.end(), &locator);
  return locator.found;
}

} // namespace grant::config
