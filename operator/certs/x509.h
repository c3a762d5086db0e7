#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "common/result.h"

namespace agentbudget::certs {

// X.509 with OpenSSL for the webhook's certificates: an ECDSA P-256 CA and serving
// certificates it signs. Every function is thread-safe (no shared state).

using TimePoint = std::chrono::system_clock::time_point;

// A certificate and its private key, both PEM. A value type.
struct CertificateAndKey {
  std::string cert_pem;
  std::string key_pem;
};

// What the rotation rules need to know about one certificate. A value type.
struct CertificateInfo {
  std::string subject;  // the subject's common name
  std::string issuer;   // the issuer's common name
  TimePoint not_before;
  TimePoint not_after;
  bool is_ca = false;
  std::vector<std::string> hosts;  // subjectAltName DNS names and IP addresses, in order
};

// A self-signed CA (basicConstraints CA:TRUE, keyCertSign) valid from `not_before` for
// `validity`, with a fresh P-256 key and a random serial. Fails with kInternal when OpenSSL
// does.
Result<CertificateAndKey> GenerateCa(const std::string& common_name, TimePoint not_before,
                                     std::chrono::seconds validity);

// A serving certificate signed by `ca` (serverAuth), with a fresh P-256 key, whose
// subjectAltNames are `hosts` (an entry that parses as an IPv4 or IPv6 address becomes an IP
// SAN, every other entry a DNS name) and whose common name is hosts[0]. Fails with
// kInvalidArgument when `hosts` is empty or `ca` does not parse, kInternal when OpenSSL fails.
Result<CertificateAndKey> IssueServing(const CertificateAndKey& ca,
                                       const std::vector<std::string>& hosts,
                                       TimePoint not_before, std::chrono::seconds validity);

// Parses one PEM certificate. Fails with kInvalidArgument when it is not one.
Result<CertificateInfo> Inspect(const std::string& cert_pem);

// True when `cert_pem`'s signature verifies with `ca_cert_pem`'s public key and its issuer
// name is the CA's subject. Fails with kInvalidArgument when either does not parse.
Result<bool> IsSignedBy(const std::string& cert_pem, const std::string& ca_cert_pem);

// True when the private key `key_pem` belongs to the certificate `cert_pem`. Fails with
// kInvalidArgument when either does not parse.
Result<bool> KeyMatches(const std::string& cert_pem, const std::string& key_pem);

// The PEM blocks of a bundle, each re-encoded canonically (so two encodings of the same
// certificate compare equal), in order. Text between blocks is ignored. Fails with
// kInvalidArgument when a block does not parse.
Result<std::vector<std::string>> SplitCertificates(const std::string& bundle_pem);
// The same for a concatenation of PEM private keys.
Result<std::vector<std::string>> SplitPrivateKeys(const std::string& keys_pem);

}  // namespace agentbudget::certs
