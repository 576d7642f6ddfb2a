// Reading the .npz archives numpy writes (np.savez and np.savez_compressed): a zip file of
// .npy members, stored or deflated (zlib). Sizes come from the central directory (numpy's
// local headers carry zip64 placeholders); every member's CRC-32 is checked. Only what a
// preset holds is decoded: float arrays (little-endian float16/32/64, C order, returned as
// float32) and 0-d unicode arrays (returned as UTF-8 text). Everything runs on the main
// thread; failures throw PresetError with the file and the member in the message.
#pragma once

#include <zlib.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <vector>

#include "livesep/errors.h"

namespace livesep {

struct NpyArray {
  std::vector<std::int64_t> shape;
  std::vector<float> values;  // float members, C order
  std::string text;           // 0-d unicode members, as UTF-8
  bool is_text = false;

  std::int64_t size() const noexcept {
    std::int64_t count = 1;
    for (std::int64_t n : shape) count *= n;
    return count;
  }
};

class NpzFile {
 public:
  // Largest member, uncompressed: a preset's arrays are bounded far below this.
  static constexpr std::uint64_t kMaxMemberBytes = std::uint64_t{1} << 30;

  // [main-thread] Reads the archive's directory (not its members).
  explicit NpzFile(const std::string& path) : path_(path) {
    std::ifstream stream(path, std::ios::binary);
    if (!stream) fail("no such file or not readable");
    bytes_.assign(std::istreambuf_iterator<char>(stream), std::istreambuf_iterator<char>());
    read_directory();
  }

  const std::string& path() const noexcept { return path_; }
  // Member names without ".npy", in archive order.
  std::vector<std::string> names() const {
    std::vector<std::string> result;
    for (const auto& entry : order_) result.push_back(entry);
    return result;
  }
  bool has(const std::string& name) const { return members_.count(name) != 0; }

  // [main-thread] Decodes member `name` (without ".npy").
  NpyArray read(const std::string& name) const {
    const auto found = members_.find(name);
    if (found == members_.end()) fail("missing entry '" + name + "'");
    return parse_npy(name, inflate(name, found->second));
  }

  [[noreturn]] void fail(const std::string& message) const {
    throw PresetError(path_ + ": " + message);
  }

 private:
  struct Member {
    std::uint16_t method = 0;
    std::uint32_t crc = 0;
    std::uint64_t packed = 0, unpacked = 0, offset = 0;
  };

  std::uint64_t le(std::uint64_t at, int bytes) const {
    if (at + bytes > bytes_.size()) fail("not a readable .npz (zip) archive, or truncated");
    std::uint64_t value = 0;
    for (int i = bytes - 1; i >= 0; --i) value = value << 8 | static_cast<unsigned char>(bytes_[at + i]);
    return value;
  }

  void read_directory() {
    const std::uint64_t size = bytes_.size();
    if (size < 22) fail("not a preset file: not a readable .npz (zip) archive, or truncated");
    // The end-of-central-directory record, searched from the back past a comment of at most
    // 65535 bytes.
    std::uint64_t end = size;
    const std::uint64_t lowest = size - 22 > 65535 ? size - 22 - 65535 : 0;
    for (std::uint64_t at = size - 21; at-- > lowest;) {
      if (le(at, 4) == 0x06054b50) {
        end = at;
        break;
      }
    }
    if (end == size) fail("not a preset file: not a readable .npz (zip) archive, or truncated");
    std::uint64_t count = le(end + 10, 2);
    std::uint64_t at = le(end + 16, 4);
    if (at == 0xffffffffu && end >= 20 && le(end - 20, 4) == 0x07064b50) {
      const std::uint64_t record = le(end - 12, 8);  // the zip64 end record
      count = le(record + 32, 8);
      at = le(record + 48, 8);
    }
    if (count > 1024) fail("holds " + std::to_string(count) + " entries, too many for a preset");
    for (std::uint64_t i = 0; i < count; ++i) {
      if (le(at, 4) != 0x02014b50) fail("corrupt zip directory");
      Member member;
      member.method = static_cast<std::uint16_t>(le(at + 10, 2));
      member.crc = static_cast<std::uint32_t>(le(at + 16, 4));
      member.packed = le(at + 20, 4);
      member.unpacked = le(at + 24, 4);
      const std::uint64_t name_length = le(at + 28, 2), extra = le(at + 30, 2);
      const std::uint64_t comment = le(at + 32, 2);
      member.offset = le(at + 42, 4);
      le(at + 46 + name_length + extra, 0);
      std::string name(bytes_.data() + at + 46, name_length);
      read_zip64_sizes(at + 46 + name_length, extra, member);
      if (name.size() < 5 || name.compare(name.size() - 4, 4, ".npy") != 0) {
        fail("unexpected entry '" + name + "'; a preset holds only .npy arrays");
      }
      name.resize(name.size() - 4);
      if (members_.count(name)) fail("entry '" + name + ".npy' appears twice");
      members_[name] = member;
      order_.push_back(name);
      at += 46 + name_length + extra + comment;
    }
  }

  // Sizes and offset that did not fit 32 bits are in the zip64 extra field, in this order.
  void read_zip64_sizes(std::uint64_t at, std::uint64_t length, Member& member) const {
    const std::uint64_t stop = at + length;
    while (at + 4 <= stop) {
      const std::uint64_t tag = le(at, 2), size = le(at + 2, 2);
      std::uint64_t field = at + 4;
      if (tag == 0x0001) {
        for (std::uint64_t* value : {&member.unpacked, &member.packed, &member.offset}) {
          if (*value == 0xffffffffu && field + 8 <= at + 4 + size) {
            *value = le(field, 8);
            field += 8;
          }
        }
      }
      at += 4 + size;
    }
  }

  std::string inflate(const std::string& name, const Member& member) const {
    const std::string where = name + ": ";
    if (le(member.offset, 4) != 0x04034b50) fail(where + "corrupt zip entry");
    const std::uint64_t data = member.offset + 30 + le(member.offset + 26, 2) +
                               le(member.offset + 28, 2);
    if (data + member.packed > bytes_.size()) fail(where + "the file is truncated");
    if (member.unpacked > kMaxMemberBytes) fail(where + "too large for a preset");
    std::string out(member.unpacked, '\0');
    if (member.method == 0) {
      if (member.packed != member.unpacked) fail(where + "corrupt zip entry");
      std::memcpy(out.data(), bytes_.data() + data, member.unpacked);
    } else if (member.method == 8) {
      z_stream z{};
      if (inflateInit2(&z, -MAX_WBITS) != Z_OK) fail(where + "cannot start zlib");
      z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(bytes_.data() + data));
      z.avail_in = static_cast<uInt>(member.packed);
      z.next_out = reinterpret_cast<Bytef*>(out.data());
      z.avail_out = static_cast<uInt>(member.unpacked);
      const int status = ::inflate(&z, Z_FINISH);
      const bool complete = status == Z_STREAM_END && z.total_out == member.unpacked;
      inflateEnd(&z);
      if (!complete) fail(where + "cannot read its data, the file is corrupt or truncated");
    } else {
      fail(where + "unsupported zip compression method " + std::to_string(member.method));
    }
    const auto crc = crc32(0L, reinterpret_cast<const Bytef*>(out.data()),
                           static_cast<uInt>(out.size()));
    if (crc != member.crc) fail(where + "bad CRC-32, the file is corrupt");
    return out;
  }

  NpyArray parse_npy(const std::string& name, const std::string& raw) const {
    const std::string where = name + ": ";
    if (raw.size() < 10 || raw.compare(0, 6, "\x93NUMPY") != 0) {
      fail(where + "not a readable .npy array, the file is corrupt or truncated");
    }
    const int major = static_cast<unsigned char>(raw[6]);
    std::size_t header_length = 0, start = 0;
    if (major == 1) {
      header_length = static_cast<unsigned char>(raw[8]) | static_cast<unsigned char>(raw[9]) << 8;
      start = 10;
    } else if (major == 2 || major == 3) {
      if (raw.size() < 12) fail(where + "truncated .npy header");
      for (int i = 3; i >= 0; --i) header_length = header_length << 8 | static_cast<unsigned char>(raw[8 + i]);
      start = 12;
    } else {
      fail(where + "unsupported .npy format version " + std::to_string(major));
    }
    if (start + header_length > raw.size()) fail(where + "truncated .npy header");
    const std::string header = raw.substr(start, header_length);
    const std::string descr = quoted_value(header, "descr", where);
    if (header.find("'fortran_order': False") == std::string::npos) {
      fail(where + "must be stored in C order");
    }
    NpyArray array;
    array.shape = shape_of(header, where);
    const char* body = raw.data() + start + header_length;
    const std::size_t body_size = raw.size() - start - header_length;
    const std::int64_t count = array.size();
    if (descr.size() >= 3 && (descr[0] == '<' || descr[0] == '|' || descr[0] == '=') &&
        descr[1] == 'U') {
      if (!array.shape.empty()) fail(where + "must be a 0-d unicode array holding JSON text");
      const std::size_t chars = std::stoul(descr.substr(2));
      if (body_size != chars * 4) fail(where + "truncated text");
      array.is_text = true;
      array.text = utf8_from_utf32(body, chars, where);
      return array;
    }
    const int width = descr == "<f2" ? 2 : descr == "<f4" ? 4 : descr == "<f8" ? 8 : 0;
    if (width == 0) {
      fail(where + "must hold floating-point numbers (float32), got dtype '" + descr + "'");
    }
    if (static_cast<std::uint64_t>(count) * width != body_size) {
      fail(where + "data size does not match its shape, the file is corrupt");
    }
    array.values.resize(count);
    for (std::int64_t i = 0; i < count; ++i) array.values[i] = decode_float(body + i * width, width);
    return array;
  }

  static float decode_float(const char* at, int width) noexcept {
    if (width == 4) {
      float value;
      std::memcpy(&value, at, 4);
      return value;
    }
    if (width == 8) {
      double value;
      std::memcpy(&value, at, 8);
      return static_cast<float>(value);
    }
    std::uint16_t half;
    std::memcpy(&half, at, 2);
    const int exponent = half >> 10 & 0x1f, mantissa = half & 0x3ff;
    const float sign = half & 0x8000 ? -1.0f : 1.0f;
    if (exponent == 0x1f) return mantissa ? std::nanf("") : sign * HUGE_VALF;
    if (exponent == 0) return sign * std::ldexp(static_cast<float>(mantissa), -24);
    return sign * std::ldexp(static_cast<float>(mantissa | 0x400), exponent - 25);
  }

  std::string quoted_value(const std::string& header, const std::string& key,
                           const std::string& where) const {
    const std::size_t at = header.find("'" + key + "':");
    const std::size_t open = at == std::string::npos ? at : header.find('\'', at + key.size() + 3);
    const std::size_t close = open == std::string::npos ? open : header.find('\'', open + 1);
    if (close == std::string::npos) fail(where + "invalid .npy header (no '" + key + "')");
    return header.substr(open + 1, close - open - 1);
  }

  std::vector<std::int64_t> shape_of(const std::string& header, const std::string& where) const {
    const std::size_t at = header.find("'shape':");
    const std::size_t open = at == std::string::npos ? at : header.find('(', at);
    const std::size_t close = open == std::string::npos ? open : header.find(')', open);
    if (close == std::string::npos) fail(where + "invalid .npy header (no shape)");
    std::vector<std::int64_t> shape;
    std::int64_t value = -1;
    for (std::size_t i = open + 1; i <= close; ++i) {
      const char c = header[i];
      if (c >= '0' && c <= '9') {
        value = (value < 0 ? 0 : value) * 10 + (c - '0');
        if (value > (std::int64_t{1} << 40)) fail(where + "invalid shape in its .npy header");
      } else if (c == ',' || c == ')') {
        if (value >= 0) shape.push_back(value);
        value = -1;
      } else if (c != ' ') {
        fail(where + "invalid shape in its .npy header");
      }
    }
    return shape;
  }

  std::string utf8_from_utf32(const char* at, std::size_t chars, const std::string& where) const {
    std::string text;
    for (std::size_t i = 0; i < chars; ++i) {
      std::uint32_t code;
      std::memcpy(&code, at + 4 * i, 4);
      if (code == 0) break;  // numpy pads shorter strings with NULs
      if (code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) {
        fail(where + "holds an invalid character; the file is corrupt");
      }
      if (code < 0x80) {
        text += static_cast<char>(code);
      } else if (code < 0x800) {
        text += static_cast<char>(0xc0 | code >> 6);
        text += static_cast<char>(0x80 | (code & 0x3f));
      } else if (code < 0x10000) {
        text += static_cast<char>(0xe0 | code >> 12);
        text += static_cast<char>(0x80 | (code >> 6 & 0x3f));
        text += static_cast<char>(0x80 | (code & 0x3f));
      } else {
        text += static_cast<char>(0xf0 | code >> 18);
        text += static_cast<char>(0x80 | (code >> 12 & 0x3f));
        text += static_cast<char>(0x80 | (code >> 6 & 0x3f));
        text += static_cast<char>(0x80 | (code & 0x3f));
      }
    }
    return text;
  }

  std::string path_;
  std::string bytes_;
  std::map<std::string, Member> members_;
  std::vector<std::string> order_;
};

}  // namespace livesep
