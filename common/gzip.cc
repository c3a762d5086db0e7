#include "common/gzip.h"

#include <zlib.h>

#include <algorithm>
#include <climits>
#include <cstdlib>

namespace agentbudget::gzip {
namespace {

// deflateInit2's and inflateInit2's windowBits: 15 (32 KiB), plus 16 for the gzip wrapper.
constexpr int kGzipWindowBits = 15 + 16;
constexpr int kMemLevel = 8;  // zlib's default
constexpr size_t kPiece = 64 << 10;

Error Bad(const std::string& what) { return InvalidArgument("gzip: " + what); }

}  // namespace

std::string Compress(std::string_view data) {
  z_stream stream{};
  // Only Z_MEM_ERROR can fail here; zlib's allocations fail as new does, by aborting.
  if (deflateInit2(&stream, 1, Z_DEFLATED, kGzipWindowBits, kMemLevel, Z_DEFAULT_STRATEGY) !=
      Z_OK) {
    std::abort();
  }
  std::string out;
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  int status = Z_OK;
  size_t left = data.size();
  while (status != Z_STREAM_END) {
    const uInt in = static_cast<uInt>(std::min<size_t>(left, UINT_MAX));
    stream.avail_in = in;
    const size_t before = out.size();
    out.resize(before + kPiece);
    stream.next_out = reinterpret_cast<Bytef*>(out.data() + before);
    stream.avail_out = static_cast<uInt>(kPiece);
    status = deflate(&stream, left == in ? Z_FINISH : Z_NO_FLUSH);
    left -= in - stream.avail_in;
    out.resize(out.size() - stream.avail_out);
  }
  deflateEnd(&stream);
  return out;
}

Result<std::string> Decompress(std::string_view compressed, size_t max_bytes) {
  if (compressed.size() > UINT_MAX) {
    return Bad("input too long");
  }
  z_stream stream{};
  if (inflateInit2(&stream, kGzipWindowBits) != Z_OK) {
    std::abort();
  }
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(compressed.data()));
  stream.avail_in = static_cast<uInt>(compressed.size());
  std::string out;
  int status = Z_OK;
  while (status == Z_OK) {
    if (out.size() > max_bytes) {
      break;
    }
    // One byte past max_bytes at most: enough to tell that the member holds more.
    const size_t room = max_bytes - out.size();
    const size_t piece = room >= kPiece ? kPiece : room + 1;
    const size_t before = out.size();
    out.resize(before + piece);
    stream.next_out = reinterpret_cast<Bytef*>(out.data() + before);
    stream.avail_out = static_cast<uInt>(piece);
    status = inflate(&stream, Z_NO_FLUSH);
    out.resize(out.size() - stream.avail_out);
  }
  const std::string message = stream.msg != nullptr ? stream.msg : "";
  const size_t unread = stream.avail_in;
  inflateEnd(&stream);
  if (out.size() > max_bytes) {
    return Bad("decompresses to more than " + std::to_string(max_bytes) + " bytes");
  }
  if (status != Z_STREAM_END) {
    // Z_BUF_ERROR, without a message: no progress without more input, so it is cut short.
    return Bad(message.empty() ? "truncated" : message);
  }
  if (unread != 0) {
    return Bad(std::to_string(unread) + " bytes after the gzip member");
  }
  return out;
}

}  // namespace agentbudget::gzip
