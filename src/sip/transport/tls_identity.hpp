#pragma once
// SIP domain identities of a TLS certificate and their comparison with a SIP
// domain (RFC 5922 §7.1 and §7.2). The rules, as implemented here:
//
//  - Identities come from subjectAltName: every dNSName entry, and every
//    uniformResourceIdentifier "sip:host" without a user part (its host).
//  - Only when the certificate has no subjectAltName extension at all is the
//    subject's commonName taken instead (§7.1: "If and only if the
//    subjectAltName does not appear in the certificate"). So a certificate
//    with only an iPAddress entry has no SIP identity, whatever its CN says.
//  - An identity matches a domain when they are equal ignoring ASCII case
//    and one trailing dot. No wildcards: "*.example.com" is not an identity of
//    anything (§7.2), and iPAddress entries never name a domain.
//
// The pure functions take the certificate's names already extracted, so tests
// need no certificates; certificateNames() extracts them with OpenSSL.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

struct x509_st;  // OpenSSL's X509

namespace tandem::sip {

// The names a certificate carries, as far as RFC 5922 cares.
struct CertificateNames {
  bool hasSubjectAltName = false;  // the extension is present (any entry type)
  std::vector<std::string> dns;    // subjectAltName dNSName entries
  std::vector<std::string> uris;   // subjectAltName uniformResourceIdentifier entries
  std::vector<std::string> ips;    // subjectAltName iPAddress entries, as text
  std::string commonName;          // the subject's (last) CN; "" if none
};

// The SIP domain identities (§7.1), lower-case, without a trailing dot,
// wildcard names and duplicates left out.
std::vector<std::string> sipDomainIdentities(const CertificateNames& names);

// Whether `domain` is one of `identities` (as sipDomainIdentities() returns).
bool identitiesContain(const std::vector<std::string>& identities, std::string_view domain);

// Whether the certificate names the SIP domain (§7.2).
bool certificateMatchesDomain(const CertificateNames& names, std::string_view domain);

// Lower-case ASCII, one trailing dot removed: the form identities are kept in.
std::string normalizeDomain(std::string_view domain);

// The names of an OpenSSL certificate.
CertificateNames certificateNames(const x509_st* certificate);
// The names of the first certificate in PEM text; nullopt if it does not parse.
std::optional<CertificateNames> certificateNamesFromPem(std::string_view pem);

}  // namespace tandem::sip
