#include "webhook/authority_ca_file.h"

#include <fstream>
#include <sstream>
#include <utility>

#include "common/log.h"

namespace agentbudget::webhook {

AuthorityCaFile::AuthorityCaFile(std::string path, FileStamp stamp, std::string pem)
    : path_(std::move(path)), stamp_(stamp), pem_(std::move(pem)) {}

Result<std::string> AuthorityCaFile::Read(const std::string& path) {
  const FileStamp stamp = StampOf(path);
  if (stamp.size < 0) {
    return InvalidArgument("cannot read " + path);
  }
  if (stamp.size > kMaxBytes) {
    return InvalidArgument(path + " is larger than " + std::to_string(kMaxBytes) + " bytes");
  }
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  if (!in.good() && !in.eof()) {
    return InvalidArgument("cannot read " + path);
  }
  std::string pem = text.str();
  if (pem.size() > static_cast<size_t>(kMaxBytes)) {
    return InvalidArgument(path + " is larger than " + std::to_string(kMaxBytes) + " bytes");
  }
  if (pem.find("-----BEGIN CERTIFICATE-----") == std::string::npos) {
    return InvalidArgument(path + " holds no PEM certificate");
  }
  return pem;
}

Result<std::unique_ptr<AuthorityCaFile>> AuthorityCaFile::Load(std::string path) {
  const FileStamp stamp = StampOf(path);
  auto pem = Read(path);
  if (!pem.ok()) {
    return std::move(pem).error();
  }
  return std::unique_ptr<AuthorityCaFile>(
      new AuthorityCaFile(std::move(path), stamp, std::move(pem).value()));
}

std::string AuthorityCaFile::Pem() {
  const FileStamp now = StampOf(path_);
  MutexLock lock(mu_);
  if (now == stamp_) {
    return pem_;
  }
  // Recorded before reading, so a bad file is reported once, not on every admission.
  stamp_ = now;
  auto pem = Read(path_);
  if (!pem.ok()) {
    log::Warn("keeping the previous authority CA", {{"error", pem.error().message}});
    return pem_;
  }
  pem_ = std::move(pem).value();
  log::Info("authority CA reloaded", {{"file", path_}});
  return pem_;
}

}  // namespace agentbudget::webhook
