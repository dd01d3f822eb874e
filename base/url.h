/*
 * url.h - the userinfo of a URL (scheme://USER:PASSWORD@host/...), found one way.
 *
 * The authority follows "://" and ends at the first '/', '?' or '#'; its userinfo
 * is what precedes the last '@' in it, as FFmpeg reads it, so an encoded '@' (%40)
 * stays inside the password and raw ones end the userinfo at the last. The
 * configuration checks the userinfo, the redaction hides its password and a source
 * name made from a URL leaves it out, all through these functions.
 */
#ifndef AVF_URL_H
#define AVF_URL_H

#include <stddef.h>

/* The length of the authority that starts at auth (just after "://"): up to its first
 * '/', '?' or '#', n bytes at most. */
size_t avf_url_authority_len(const char *auth, size_t n);

/*
 * The userinfo of the authority that starts at auth (n bytes at most): returns 1 and
 * sets *len to its length (0 for "scheme://@host"), or returns 0 when the authority
 * has no '@'.
 */
int avf_url_userinfo(const char *auth, size_t n, size_t *len);

/*
 * The password of a userinfo of len bytes: returns 1 and sets *at to where it starts,
 * after the first ':' outside brackets, else after the first ':' (*at == len: an
 * empty password); returns 0 when there is no ':' (a user alone).
 */
int avf_url_password(const char *userinfo, size_t len, size_t *at);

#endif
