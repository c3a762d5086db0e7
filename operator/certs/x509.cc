#include "operator/certs/x509.h"

#include <arpa/inet.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <ctime>
#include <memory>

namespace agentbudget::certs {
namespace {

using Key = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;
using Cert = std::unique_ptr<X509, decltype(&X509_free)>;
using Bio = std::unique_ptr<BIO, decltype(&BIO_free)>;

Error OpenSslError(const std::string& what) {
  std::string message = what;
  if (const unsigned long code = ERR_get_error(); code != 0) {  // NOLINT(google-runtime-int)
    char text[256];
    ERR_error_string_n(code, text, sizeof(text));
    message += ": " + std::string(text);
  }
  ERR_clear_error();
  return Internal(message);
}

Bio ReadBio(const std::string& text) {
  return Bio(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())), &BIO_free);
}

std::string BioText(BIO* bio) {
  char* data = nullptr;
  const long length = BIO_get_mem_data(bio, &data);  // NOLINT(google-runtime-int)
  return std::string(data, static_cast<size_t>(length));
}

Result<Cert> ParseCert(const std::string& pem) {
  Bio bio = ReadBio(pem);
  Cert cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr), &X509_free);
  ERR_clear_error();
  if (!cert) {
    return InvalidArgument("not a PEM certificate");
  }
  return cert;
}

Result<Key> ParseKey(const std::string& pem) {
  Bio bio = ReadBio(pem);
  Key key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr), &EVP_PKEY_free);
  ERR_clear_error();
  if (!key) {
    return InvalidArgument("not a PEM private key");
  }
  return key;
}

std::string CertPem(X509* cert) {
  Bio bio(BIO_new(BIO_s_mem()), &BIO_free);
  PEM_write_bio_X509(bio.get(), cert);
  return BioText(bio.get());
}

std::string KeyPem(EVP_PKEY* key) {
  Bio bio(BIO_new(BIO_s_mem()), &BIO_free);
  PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr);
  return BioText(bio.get());
}

std::string CommonName(const X509_NAME* name) {
  const int index = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
  if (index < 0) {
    return "";
  }
  const ASN1_STRING* data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, index));
  return std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(data)),
                     static_cast<size_t>(ASN1_STRING_length(data)));
}

TimePoint FromAsn1(const ASN1_TIME* time) {
  std::tm tm{};
  ASN1_TIME_to_tm(time, &tm);
  return std::chrono::system_clock::from_time_t(timegm(&tm));
}

bool IsIpAddress(const std::string& host) {
  unsigned char buffer[16];
  return inet_pton(AF_INET, host.c_str(), buffer) == 1 ||
         inet_pton(AF_INET6, host.c_str(), buffer) == 1;
}

// Adds one extension in OpenSSL's config syntax, e.g. "critical,CA:TRUE".
bool AddExtension(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX context;
  X509V3_set_ctx_nodb(&context);
  X509V3_set_ctx(&context, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* extension = X509V3_EXT_conf_nid(nullptr, &context, nid, value.c_str());
  if (extension == nullptr) {
    return false;
  }
  const bool added = X509_add_ext(cert, extension, -1) == 1;
  X509_EXTENSION_free(extension);
  return added;
}

// A certificate with a fresh P-256 key, validity, a random 127-bit serial and the subject;
// the caller adds extensions, sets the issuer and signs.
Result<std::pair<Cert, Key>> NewCertificate(const std::string& common_name, TimePoint not_before,
                                            std::chrono::seconds validity) {
  Key key(EVP_EC_gen("P-256"), &EVP_PKEY_free);
  Cert cert(X509_new(), &X509_free);
  if (!key || !cert) {
    return OpenSslError("P-256 key generation failed");
  }
  std::unique_ptr<BIGNUM, decltype(&BN_free)> serial(BN_new(), &BN_free);
  const time_t start = std::chrono::system_clock::to_time_t(not_before);
  if (X509_set_version(cert.get(), 2) != 1 || !serial ||
      BN_rand(serial.get(), 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) != 1 ||
      BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(cert.get())) == nullptr ||
      ASN1_TIME_set(X509_getm_notBefore(cert.get()), start) == nullptr ||
      ASN1_TIME_set(X509_getm_notAfter(cert.get()), start + validity.count()) == nullptr ||
      X509_set_pubkey(cert.get(), key.get()) != 1) {
    return OpenSslError("cannot fill in the certificate");
  }
  X509_NAME* name = X509_get_subject_name(cert.get());
  if (X509_NAME_add_entry_by_NID(name, NID_commonName, MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>(common_name.c_str()),
                                 -1, -1, 0) != 1) {
    return OpenSslError("cannot set the common name \"" + common_name + "\"");
  }
  return std::make_pair(std::move(cert), std::move(key));
}

}  // namespace

Result<CertificateAndKey> GenerateCa(const std::string& common_name, TimePoint not_before,
                                     std::chrono::seconds validity) {
  auto made = NewCertificate(common_name, not_before, validity);
  if (!made.ok()) {
    return std::move(made).error();
  }
  X509* cert = made->first.get();
  EVP_PKEY* key = made->second.get();
  if (X509_set_issuer_name(cert, X509_get_subject_name(cert)) != 1 ||
      !AddExtension(cert, cert, NID_basic_constraints, "critical,CA:TRUE") ||
      !AddExtension(cert, cert, NID_key_usage, "critical,keyCertSign,cRLSign") ||
      !AddExtension(cert, cert, NID_subject_key_identifier, "hash") ||
      X509_sign(cert, key, EVP_sha256()) == 0) {
    return OpenSslError("cannot sign the CA certificate");
  }
  return CertificateAndKey{CertPem(cert), KeyPem(key)};
}

Result<CertificateAndKey> IssueServing(const CertificateAndKey& ca,
                                       const std::vector<std::string>& hosts,
                                       TimePoint not_before, std::chrono::seconds validity) {
  if (hosts.empty()) {
    return InvalidArgument("a serving certificate needs at least one host");
  }
  auto ca_cert = ParseCert(ca.cert_pem);
  auto ca_key = ParseKey(ca.key_pem);
  if (!ca_cert.ok() || !ca_key.ok()) {
    return InvalidArgument("the CA certificate or key does not parse");
  }
  auto made = NewCertificate(hosts[0], not_before, validity);
  if (!made.ok()) {
    return std::move(made).error();
  }
  X509* cert = made->first.get();
  std::string names;
  for (const std::string& host : hosts) {
    if (!names.empty()) {
      names += ',';
    }
    names += IsIpAddress(host) ? "IP:" : "DNS:";
    names += host;
  }
  if (X509_set_issuer_name(cert, X509_get_subject_name(ca_cert->get())) != 1 ||
      !AddExtension(cert, ca_cert->get(), NID_basic_constraints, "critical,CA:FALSE") ||
      !AddExtension(cert, ca_cert->get(), NID_key_usage, "critical,digitalSignature") ||
      !AddExtension(cert, ca_cert->get(), NID_ext_key_usage, "serverAuth") ||
      !AddExtension(cert, ca_cert->get(), NID_authority_key_identifier, "keyid") ||
      !AddExtension(cert, ca_cert->get(), NID_subject_alt_name, names) ||
      X509_sign(cert, ca_key->get(), EVP_sha256()) == 0) {
    return OpenSslError("cannot sign the serving certificate for " + names);
  }
  return CertificateAndKey{CertPem(cert), KeyPem(made->second.get())};
}

Result<CertificateInfo> Inspect(const std::string& cert_pem) {
  auto cert = ParseCert(cert_pem);
  if (!cert.ok()) {
    return std::move(cert).error();
  }
  X509* x = cert->get();
  CertificateInfo info;
  info.subject = CommonName(X509_get_subject_name(x));
  info.issuer = CommonName(X509_get_issuer_name(x));
  info.not_before = FromAsn1(X509_get0_notBefore(x));
  info.not_after = FromAsn1(X509_get0_notAfter(x));
  info.is_ca = (X509_get_extension_flags(x) & EXFLAG_CA) != 0;
  auto* names = static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(x, NID_subject_alt_name, nullptr, nullptr));
  for (int i = 0; names != nullptr && i < sk_GENERAL_NAME_num(names); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(names, i);
    if (name->type == GEN_DNS) {
      const ASN1_STRING* dns = name->d.dNSName;
      info.hosts.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(dns)),
                              static_cast<size_t>(ASN1_STRING_length(dns)));
    } else if (name->type == GEN_IPADD) {
      const ASN1_OCTET_STRING* ip = name->d.iPAddress;
      char text[INET6_ADDRSTRLEN] = {};
      const int family = ASN1_STRING_length(ip) == 4 ? AF_INET : AF_INET6;
      if (inet_ntop(family, ASN1_STRING_get0_data(ip), text, sizeof(text)) != nullptr) {
        info.hosts.emplace_back(text);
      }
    }
  }
  GENERAL_NAMES_free(names);
  return info;
}

Result<bool> IsSignedBy(const std::string& cert_pem, const std::string& ca_cert_pem) {
  auto cert = ParseCert(cert_pem);
  auto ca = ParseCert(ca_cert_pem);
  if (!cert.ok() || !ca.ok()) {
    return InvalidArgument("the certificate or the CA does not parse");
  }
  const bool issuer_matches =
      X509_NAME_cmp(X509_get_issuer_name(cert->get()), X509_get_subject_name(ca->get())) == 0;
  const bool verifies = X509_verify(cert->get(), X509_get0_pubkey(ca->get())) == 1;
  ERR_clear_error();
  return issuer_matches && verifies;
}

Result<bool> KeyMatches(const std::string& cert_pem, const std::string& key_pem) {
  auto cert = ParseCert(cert_pem);
  auto key = ParseKey(key_pem);
  if (!cert.ok() || !key.ok()) {
    return InvalidArgument("the certificate or the key does not parse");
  }
  const bool matches = X509_check_private_key(cert->get(), key->get()) == 1;
  ERR_clear_error();
  return matches;
}

namespace {

// Parses each "-----BEGIN ...-----" to "-----END ...-----" block of `text` with `parse`,
// which returns "" when the block does not parse.
template <typename Parse>
Result<std::vector<std::string>> SplitPem(const std::string& text, Parse parse) {
  static const std::string kBegin = "-----BEGIN ";
  static const std::string kEnd = "-----END ";
  std::vector<std::string> blocks;
  for (size_t begin = text.find(kBegin); begin != std::string::npos;
       begin = text.find(kBegin, begin + 1)) {
    const size_t end = text.find(kEnd, begin);
    const size_t close = end == std::string::npos ? end : text.find("-----", end + kEnd.size());
    std::string block =
        close == std::string::npos ? "" : parse(text.substr(begin, close + 5 - begin) + "\n");
    if (block.empty()) {
      return InvalidArgument("PEM block " + std::to_string(blocks.size() + 1) +
                             " does not parse");
    }
    blocks.push_back(std::move(block));
  }
  return blocks;
}

}  // namespace

Result<std::vector<std::string>> SplitCertificates(const std::string& bundle_pem) {
  return SplitPem(bundle_pem, [](const std::string& block) {
    auto cert = ParseCert(block);
    return cert.ok() ? CertPem(cert->get()) : std::string();
  });
}

Result<std::vector<std::string>> SplitPrivateKeys(const std::string& keys_pem) {
  return SplitPem(keys_pem, [](const std::string& block) {
    auto key = ParseKey(block);
    return key.ok() ? KeyPem(key->get()) : std::string();
  });
}

}  // namespace agentbudget::certs
