#include "kube/object_codec.h"

#include <zlib.h>

#include <memory>

namespace agentbudget::kube {
namespace {

using nlohmann::json;

// Bytes of the deflate window: the dictionary beyond it would be ignored.
constexpr std::size_t kMaxDictionary = 32768;

struct Deflater {
  Deflater() { deflateInit2(&stream, Z_BEST_SPEED, Z_DEFLATED, -15, 9, Z_DEFAULT_STRATEGY); }
  ~Deflater() { deflateEnd(&stream); }
  z_stream stream{};
};

struct Inflater {
  Inflater() { inflateInit2(&stream, -15); }
  ~Inflater() { inflateEnd(&stream); }
  z_stream stream{};
};

}  // namespace

std::string ObjectCodec::Encode(const json& object) {
  std::string packed;
  json::to_msgpack(object, packed);
  std::call_once(dictionary_once_, [&] { dictionary_ = packed.substr(0, kMaxDictionary); });

  // One deflate state per thread: initialising one costs far more than compressing a Pod.
  thread_local Deflater deflater;
  z_stream& z = deflater.stream;
  deflateReset(&z);
  deflateSetDictionary(&z, reinterpret_cast<const Bytef*>(dictionary_.data()),
                       static_cast<uInt>(dictionary_.size()));
  // Header: the uncompressed size as 4 bytes little-endian, so Decode allocates once.
  std::string out(4 + deflateBound(&z, static_cast<uLong>(packed.size())), '\0');
  auto size = static_cast<uint32_t>(packed.size());
  for (int i = 0; i < 4; ++i) {
    out[i] = static_cast<char>((size >> (8 * i)) & 0xFF);
  }
  z.next_in = reinterpret_cast<Bytef*>(packed.data());
  z.avail_in = static_cast<uInt>(packed.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data() + 4);
  z.avail_out = static_cast<uInt>(out.size() - 4);
  deflate(&z, Z_FINISH);
  out.resize(4 + z.total_out);
  out.shrink_to_fit();
  return out;
}

Result<json> ObjectCodec::Decode(std::string_view encoded) const {
  if (encoded.size() < 4) {
    return Internal("cached object is truncated");
  }
  uint32_t size = 0;
  for (int i = 0; i < 4; ++i) {
    size |= static_cast<uint32_t>(static_cast<unsigned char>(encoded[i])) << (8 * i);
  }
  thread_local Inflater inflater;
  z_stream& z = inflater.stream;
  inflateReset(&z);
  inflateSetDictionary(&z, reinterpret_cast<const Bytef*>(dictionary_.data()),
                       static_cast<uInt>(dictionary_.size()));
  std::string packed(size, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(encoded.data() + 4));
  z.avail_in = static_cast<uInt>(encoded.size() - 4);
  z.next_out = reinterpret_cast<Bytef*>(packed.data());
  z.avail_out = size;
  int rc = inflate(&z, Z_FINISH);
  if (rc != Z_STREAM_END || z.total_out != size) {
    return Internal("cached object does not inflate");
  }
  json object = json::from_msgpack(packed, /*strict=*/true, /*allow_exceptions=*/false);
  if (object.is_discarded()) {
    return Internal("cached object is not MessagePack");
  }
  return object;
}

}  // namespace agentbudget::kube
