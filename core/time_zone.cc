#include "core/time_zone.h"

#include <algorithm>
#include <cctype>
#include <fstream>
#include <optional>
#include <sstream>
#include <vector>

#include "core/posix_tz_rule.h"

namespace agentbudget::core {

struct TimeZone::Data {
  std::string name;
  // Transition instants (ascending) and the offset in force from each one on.
  std::vector<int64_t> transitions;
  std::vector<int32_t> offsets;
  // The offset before the first transition.
  int32_t initial_offset = 0;
  // Rule for instants after the last transition, when the file has one.
  std::optional<PosixTzRule> footer;
};

namespace {

// Big-endian reads with bounds checks over the TZif bytes.
class Reader {
 public:
  explicit Reader(std::string_view data) : data_(data) {}
  bool Has(size_t n) const { return data_.size() - pos_ >= n; }
  size_t pos() const { return pos_; }
  void Skip(size_t n) { pos_ += n; }
  uint8_t U8() { return static_cast<uint8_t>(data_[pos_++]); }
  int64_t Signed(int width) {
    uint64_t value = 0;
    for (int i = 0; i < width; ++i) {
      value = (value << 8) | U8();
    }
    if (width == 4) {
      return static_cast<int32_t>(static_cast<uint32_t>(value));
    }
    return static_cast<int64_t>(value);
  }
  std::string_view Rest() const { return data_.substr(pos_); }

 private:
  std::string_view data_;
  size_t pos_ = 0;
};

struct Header {
  char version = 0;
  uint32_t isutcnt = 0, isstdcnt = 0, leapcnt = 0, timecnt = 0, typecnt = 0, charcnt = 0;
  size_t DataBytes(int time_width) const {
    return size_t{timecnt} * time_width + timecnt + size_t{typecnt} * 6 + charcnt +
           size_t{leapcnt} * (time_width + 4) + isstdcnt + isutcnt;
  }
};

Result<Header> ReadHeader(Reader& reader) {
  if (!reader.Has(44)) {
    return InvalidArgument("TZif: truncated header");
  }
  std::string magic;
  for (int i = 0; i < 4; ++i) {
    magic.push_back(static_cast<char>(reader.U8()));
  }
  if (magic != "TZif") {
    return InvalidArgument("TZif: bad magic");
  }
  Header header;
  header.version = static_cast<char>(reader.U8());
  reader.Skip(15);
  header.isutcnt = static_cast<uint32_t>(reader.Signed(4));
  header.isstdcnt = static_cast<uint32_t>(reader.Signed(4));
  header.leapcnt = static_cast<uint32_t>(reader.Signed(4));
  header.timecnt = static_cast<uint32_t>(reader.Signed(4));
  header.typecnt = static_cast<uint32_t>(reader.Signed(4));
  header.charcnt = static_cast<uint32_t>(reader.Signed(4));
  if (header.typecnt == 0 || header.typecnt > 256 || header.timecnt > 100000 ||
      header.leapcnt > 100000 || header.charcnt > 100000 ||
      (header.isutcnt != 0 && header.isutcnt != header.typecnt) ||
      (header.isstdcnt != 0 && header.isstdcnt != header.typecnt)) {
    return InvalidArgument("TZif: inconsistent counts");
  }
  return header;
}

Status ReadBody(Reader& reader, const Header& header, int width, TimeZone::Data* zone) {
  if (!reader.Has(header.DataBytes(width))) {
    return InvalidArgument("TZif: truncated data block");
  }
  std::vector<int64_t> times(header.timecnt);
  for (auto& time : times) {
    time = reader.Signed(width);
  }
  std::vector<uint8_t> indices(header.timecnt);
  for (auto& index : indices) {
    index = reader.U8();
    if (index >= header.typecnt) {
      return InvalidArgument("TZif: transition type out of range");
    }
  }
  std::vector<int32_t> type_offsets(header.typecnt);
  for (auto& offset : type_offsets) {
    offset = static_cast<int32_t>(reader.Signed(4));
    reader.Skip(2);  // isdst, abbreviation index
    if (offset <= -25 * 3600 || offset >= 26 * 3600) {
      return InvalidArgument("TZif: offset out of range");
    }
  }
  reader.Skip(header.charcnt + size_t{header.leapcnt} * (width + 4) + header.isstdcnt +
              header.isutcnt);
  if (!std::is_sorted(times.begin(), times.end())) {
    return InvalidArgument("TZif: transitions not ascending");
  }
  zone->transitions = std::move(times);
  zone->offsets.clear();
  for (uint8_t index : indices) {
    zone->offsets.push_back(type_offsets[index]);
  }
  zone->initial_offset = type_offsets[0];
  return OkStatus();
}

bool IanaShaped(std::string_view name) {
  if (name.empty() || name.size() > 255 || name.front() == '/' || name.back() == '/') {
    return false;
  }
  if (name.find("..") != std::string_view::npos || name.find("//") != std::string_view::npos) {
    return false;
  }
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '/' || c == '_' || c == '-' ||
           c == '+';
  });
}

}  // namespace

TimeZone TimeZone::Utc() {
  static const std::shared_ptr<const Data> utc = [] {
    auto zone = std::make_shared<Data>();
    zone->name = "UTC";
    return zone;
  }();
  return TimeZone(utc);
}

Result<TimeZone> TimeZone::Parse(std::string_view name, std::string_view data) {
  auto zone = std::make_shared<Data>();
  zone->name = std::string(name);
  Reader reader(data);
  auto v1 = ReadHeader(reader);
  if (!v1.ok()) {
    return std::move(v1).error();
  }
  if (v1->version == '\0') {
    if (auto status = ReadBody(reader, *v1, 4, zone.get()); !status.ok()) {
      return std::move(status).error();
    }
    return TimeZone(std::move(zone));
  }
  // Version 2+: skip the 32-bit block and read the 64-bit one and the footer.
  if (!reader.Has(v1->DataBytes(4))) {
    return InvalidArgument("TZif: truncated v1 data block");
  }
  reader.Skip(v1->DataBytes(4));
  auto v2 = ReadHeader(reader);
  if (!v2.ok()) {
    return std::move(v2).error();
  }
  if (auto status = ReadBody(reader, *v2, 8, zone.get()); !status.ok()) {
    return std::move(status).error();
  }
  std::string_view footer = reader.Rest();
  if (footer.size() < 2 || footer.front() != '\n') {
    return InvalidArgument("TZif: missing footer");
  }
  footer.remove_prefix(1);
  footer = footer.substr(0, footer.find('\n'));
  if (!footer.empty()) {
    auto rule = PosixTzRule::Parse(footer);
    if (!rule.ok()) {
      return std::move(rule).error();
    }
    zone->footer = *rule;
  }
  return TimeZone(std::move(zone));
}

Result<TimeZone> TimeZone::Load(std::string_view name, const std::string& directory) {
  if (name == "UTC" || name == "Etc/UTC") {
    return Utc();
  }
  if (!IanaShaped(name)) {
    return InvalidArgument("time zone \"" + std::string(name) + "\" is not an IANA zone name");
  }
  std::ifstream file(directory + "/" + std::string(name), std::ios::binary);
  if (!file) {
    return NotFound("time zone \"" + std::string(name) + "\" not found in " + directory);
  }
  std::ostringstream bytes;
  bytes << file.rdbuf();
  auto zone = Parse(name, bytes.str());
  if (!zone.ok()) {
    return NotFound("time zone \"" + std::string(name) + "\": " + zone.error().message);
  }
  return zone;
}

const std::string& TimeZone::name() const { return data_->name; }

int32_t TimeZone::OffsetAt(SysSeconds instant) const {
  const int64_t t = instant.time_since_epoch().count();
  const auto& transitions = data_->transitions;
  if (transitions.empty() || t < transitions.front()) {
    if (transitions.empty() && data_->footer) {
      return data_->footer->OffsetAt(instant);
    }
    return data_->initial_offset;
  }
  if (t >= transitions.back() && data_->footer) {
    return data_->footer->OffsetAt(instant);
  }
  auto after = std::upper_bound(transitions.begin(), transitions.end(), t);
  return data_->offsets[static_cast<size_t>(after - transitions.begin()) - 1];
}

LocalSeconds TimeZone::ToLocal(SysSeconds instant) const {
  return LocalSeconds{instant.time_since_epoch() + std::chrono::seconds{OffsetAt(instant)}};
}

SysSeconds TimeZone::FromLocal(LocalSeconds local) const {
  using std::chrono::seconds;
  const SysSeconds naive{local.time_since_epoch()};
  // Offsets in force a day either side bracket every transition near `local`.
  const int32_t before = OffsetAt(naive - seconds{86400});
  const int32_t after = OffsetAt(naive + seconds{86400});
  std::optional<SysSeconds> earliest;
  for (int32_t offset : {before, after}) {
    const SysSeconds candidate = naive - seconds{offset};
    if (OffsetAt(candidate) == offset && (!earliest || candidate < *earliest)) {
      earliest = candidate;
    }
  }
  if (earliest) {
    return *earliest;
  }
  // `local` was skipped: find the transition, the first instant whose offset is `after`.
  int64_t low = (naive - seconds{std::max(before, after)}).time_since_epoch().count();
  int64_t high = (naive - seconds{std::min(before, after)}).time_since_epoch().count();
  while (low < high) {
    const int64_t mid = low + (high - low) / 2;
    if (OffsetAt(SysSeconds{seconds{mid}}) == after) {
      high = mid;
    } else {
      low = mid + 1;
    }
  }
  return SysSeconds{seconds{low}};
}

}  // namespace agentbudget::core
