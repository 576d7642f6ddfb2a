// A small JSON reader for a preset's `meta` text (RFC 8259: objects, arrays, strings with
// escapes, numbers, true, false, null). Main thread only; a malformed text throws
// PresetError with the offset of the problem.
#pragma once

#include <cctype>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

#include "livesep/errors.h"

namespace livesep {

struct JsonValue {
  enum class Kind { Null, Bool, Number, String, Array, Object };
  Kind kind = Kind::Null;
  bool boolean = false;
  double number = 0.0;
  bool integral = false;  // a number written without fraction or exponent
  std::string text;
  std::vector<JsonValue> items;
  std::vector<std::pair<std::string, JsonValue>> fields;

  // The field `key` of an object, or null if absent.
  const JsonValue* find(const std::string& key) const noexcept {
    for (const auto& field : fields) {
      if (field.first == key) return &field.second;
    }
    return nullptr;
  }
};

class JsonReader {
 public:
  // [main-thread] Parses the whole of `text`.
  static JsonValue parse(const std::string& text) {
    JsonReader reader(text);
    JsonValue value = reader.value(0);
    reader.space();
    if (reader.at_ != text.size()) reader.fail("unexpected text after the value");
    return value;
  }

 private:
  explicit JsonReader(const std::string& text) : text_(text) {}

  static constexpr int kMaxDepth = 64;

  [[noreturn]] void fail(const std::string& message) const {
    throw PresetError("not valid JSON (" + message + " at character " + std::to_string(at_) + ")");
  }

  void space() noexcept {
    while (at_ < text_.size() &&
           (text_[at_] == ' ' || text_[at_] == '\n' || text_[at_] == '\r' || text_[at_] == '\t')) {
      ++at_;
    }
  }

  char peek() {
    space();
    if (at_ >= text_.size()) fail("unexpected end");
    return text_[at_];
  }

  bool literal(const char* word) {
    const std::string token(word);
    if (text_.compare(at_, token.size(), token) != 0) return false;
    at_ += token.size();
    return true;
  }

  JsonValue value(int depth) {
    if (depth > kMaxDepth) fail("nested too deeply");
    JsonValue result;
    const char c = peek();
    if (c == '{') {
      result.kind = JsonValue::Kind::Object;
      ++at_;
      if (peek() == '}') return ++at_, result;
      while (true) {
        if (peek() != '"') fail("expected a field name");
        std::string key = string();
        if (peek() != ':') fail("expected ':'");
        ++at_;
        result.fields.emplace_back(std::move(key), value(depth + 1));
        const char next = peek();
        ++at_;
        if (next == '}') return result;
        if (next != ',') fail("expected ',' or '}'");
      }
    }
    if (c == '[') {
      result.kind = JsonValue::Kind::Array;
      ++at_;
      if (peek() == ']') return ++at_, result;
      while (true) {
        result.items.push_back(value(depth + 1));
        const char next = peek();
        ++at_;
        if (next == ']') return result;
        if (next != ',') fail("expected ',' or ']'");
      }
    }
    if (c == '"') {
      result.kind = JsonValue::Kind::String;
      result.text = string();
      return result;
    }
    if (literal("true") || literal("false")) {
      result.kind = JsonValue::Kind::Bool;
      result.boolean = text_[at_ - 1] == 'e' && text_[at_ - 2] == 'u';
      return result;
    }
    if (literal("null")) return result;
    return number();
  }

  JsonValue number() {
    const std::size_t start = at_;
    if (at_ < text_.size() && text_[at_] == '-') ++at_;
    const std::size_t digits = at_;
    while (at_ < text_.size() && std::isdigit(static_cast<unsigned char>(text_[at_]))) ++at_;
    if (at_ == digits) fail("unexpected character");
    if (text_[digits] == '0' && at_ - digits > 1) fail("a number with a leading zero");
    bool integral = true;
    if (at_ < text_.size() && text_[at_] == '.') {
      integral = false;
      ++at_;
      const std::size_t fraction = at_;
      while (at_ < text_.size() && std::isdigit(static_cast<unsigned char>(text_[at_]))) ++at_;
      if (at_ == fraction) fail("a number without digits after '.'");
    }
    if (at_ < text_.size() && (text_[at_] == 'e' || text_[at_] == 'E')) {
      integral = false;
      ++at_;
      if (at_ < text_.size() && (text_[at_] == '+' || text_[at_] == '-')) ++at_;
      const std::size_t exponent = at_;
      while (at_ < text_.size() && std::isdigit(static_cast<unsigned char>(text_[at_]))) ++at_;
      if (at_ == exponent) fail("a number without exponent digits");
    }
    JsonValue result;
    result.kind = JsonValue::Kind::Number;
    result.integral = integral;
    result.number = std::strtod(text_.substr(start, at_ - start).c_str(), nullptr);
    return result;
  }

  std::uint32_t hex4() {
    if (at_ + 4 > text_.size()) fail("a short \\u escape");
    std::uint32_t code = 0;
    for (int i = 0; i < 4; ++i) {
      const char c = text_[at_++];
      code <<= 4;
      if (c >= '0' && c <= '9') code |= c - '0';
      else if (c >= 'a' && c <= 'f') code |= c - 'a' + 10;
      else if (c >= 'A' && c <= 'F') code |= c - 'A' + 10;
      else fail("a bad \\u escape");
    }
    return code;
  }

  static void append_utf8(std::string& out, std::uint32_t code) {
    if (code < 0x80) {
      out += static_cast<char>(code);
    } else if (code < 0x800) {
      out += static_cast<char>(0xc0 | code >> 6);
      out += static_cast<char>(0x80 | (code & 0x3f));
    } else if (code < 0x10000) {
      out += static_cast<char>(0xe0 | code >> 12);
      out += static_cast<char>(0x80 | (code >> 6 & 0x3f));
      out += static_cast<char>(0x80 | (code & 0x3f));
    } else {
      out += static_cast<char>(0xf0 | code >> 18);
      out += static_cast<char>(0x80 | (code >> 12 & 0x3f));
      out += static_cast<char>(0x80 | (code >> 6 & 0x3f));
      out += static_cast<char>(0x80 | (code & 0x3f));
    }
  }

  std::string string() {
    ++at_;  // the opening quote
    std::string out;
    while (true) {
      if (at_ >= text_.size()) fail("an unterminated string");
      const char c = text_[at_++];
      if (c == '"') return out;
      if (static_cast<unsigned char>(c) < 0x20) fail("a control character in a string");
      if (c != '\\') {
        out += c;
        continue;
      }
      if (at_ >= text_.size()) fail("an unterminated string");
      const char e = text_[at_++];
      switch (e) {
        case '"': out += '"'; break;
        case '\\': out += '\\'; break;
        case '/': out += '/'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          std::uint32_t code = hex4();
          if (code >= 0xd800 && code <= 0xdbff) {  // a surrogate pair
            if (!literal("\\u")) fail("a lone surrogate");
            const std::uint32_t low = hex4();
            if (low < 0xdc00 || low > 0xdfff) fail("a lone surrogate");
            code = 0x10000 + ((code - 0xd800) << 10) + (low - 0xdc00);
          } else if (code >= 0xdc00 && code <= 0xdfff) {
            fail("a lone surrogate");
          }
          append_utf8(out, code);
          break;
        }
        default: fail("a bad escape");
      }
    }
  }

  const std::string& text_;
  std::size_t at_ = 0;
};

}  // namespace livesep
