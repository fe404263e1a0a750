#include "sip/transport/tls_identity.hpp"

#include "sip/message/uri.hpp"

#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <cstdio>
#include <memory>

namespace tandem::sip {
namespace {

char lower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

// The host of a sip: URI without a user part (RFC 5922 §7.1: such a URI
// names a domain), read by the URI parser: "sip:[2001:db8::1]:5061" keeps
// its IPv6 reference whole.
std::optional<std::string_view> sipUriDomain(std::string_view uri) {
  const auto parsed = Uri::parse(uri);
  if (!parsed || parsed->scheme != UriScheme::Sip || !parsed->user.empty()) return std::nullopt;
  return parsed->host;
}

std::string asn1Text(const ASN1_STRING* s) {
  if (s == nullptr) return {};
  const auto* data = ASN1_STRING_get0_data(s);
  return std::string(reinterpret_cast<const char*>(data),
                     static_cast<std::size_t>(ASN1_STRING_length(s)));
}

std::string ipText(const ASN1_OCTET_STRING* s) {
  const auto bytes = asn1Text(s);
  char text[64] = {};
  if (bytes.size() == 4) {
    snprintf(text, sizeof text, "%u.%u.%u.%u", static_cast<unsigned char>(bytes[0]),
             static_cast<unsigned char>(bytes[1]), static_cast<unsigned char>(bytes[2]),
             static_cast<unsigned char>(bytes[3]));
    return text;
  }
  std::string hex;
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    snprintf(text, sizeof text, "%s%02x", i > 0 && i % 2 == 0 ? ":" : "",
             static_cast<unsigned char>(bytes[i]));
    hex += text;
  }
  return hex;
}

}  // namespace

std::string normalizeDomain(std::string_view domain) {
  if (!domain.empty() && domain.back() == '.') domain.remove_suffix(1);
  std::string out(domain);
  std::transform(out.begin(), out.end(), out.begin(), lower);
  return out;
}

std::vector<std::string> sipDomainIdentities(const CertificateNames& names) {
  std::vector<std::string> out;
  const auto add = [&out](std::string_view name) {
    // A wildcard never names a SIP domain (§7.2); an empty name is nothing.
    if (name.empty() || name.find('*') != std::string_view::npos) return;
    auto normal = normalizeDomain(name);
    if (!normal.empty() && std::find(out.begin(), out.end(), normal) == out.end())
      out.push_back(std::move(normal));
  };
  if (!names.hasSubjectAltName) {
    add(names.commonName);
    return out;
  }
  for (const auto& uri : names.uris) {
    if (const auto host = sipUriDomain(uri)) add(*host);
  }
  for (const auto& dns : names.dns)
    add(dns);
  return out;
}

bool identitiesContain(const std::vector<std::string>& identities, std::string_view domain) {
  const auto wanted = normalizeDomain(domain);
  if (wanted.empty()) return false;
  return std::find(identities.begin(), identities.end(), wanted) != identities.end();
}

bool certificateMatchesDomain(const CertificateNames& names, std::string_view domain) {
  return identitiesContain(sipDomainIdentities(names), domain);
}

CertificateNames certificateNames(const x509_st* certificate) {
  CertificateNames names;
  if (certificate == nullptr) return names;
  auto* cert = const_cast<X509*>(certificate);  // OpenSSL 1.1 API is not const-correct
  int critical = 0;
  auto* sans =
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, &critical, nullptr));
  if (sans != nullptr) {
    names.hasSubjectAltName = true;
    for (int i = 0; i < sk_GENERAL_NAME_num(sans); ++i) {
      const GENERAL_NAME* name = sk_GENERAL_NAME_value(sans, i);
      switch (name->type) {
        case GEN_DNS:
          names.dns.push_back(asn1Text(name->d.dNSName));
          break;
        case GEN_URI:
          names.uris.push_back(asn1Text(name->d.uniformResourceIdentifier));
          break;
        case GEN_IPADD:
          names.ips.push_back(ipText(name->d.iPAddress));
          break;
        default:
          break;
      }
    }
    GENERAL_NAMES_free(sans);
  } else if (X509_get_ext_by_NID(cert, NID_subject_alt_name, -1) >= 0) {
    names.hasSubjectAltName = true;  // present but unreadable: still no CN fallback
  }
  const X509_NAME* subject = X509_get_subject_name(cert);
  for (int i = -1; (i = X509_NAME_get_index_by_NID(subject, NID_commonName, i)) >= 0;) {
    names.commonName = asn1Text(X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, i)));
  }
  return names;
}

std::optional<CertificateNames> certificateNamesFromPem(std::string_view pem) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(
      BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), &BIO_free);
  if (!bio) return std::nullopt;
  std::unique_ptr<X509, decltype(&X509_free)> cert(
      PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr), &X509_free);
  if (!cert) return std::nullopt;
  return certificateNames(cert.get());
}

}  // namespace tandem::sip
