/*
 * redact.h - URLs shown to people without their secrets.
 *
 * Every text that leaves the process (log lines, status errors, control replies,
 * CLI output) goes through avf_redact(); only the code that opens an input sees
 * the real URL. The rule, for every "://" anywhere in the text:
 * - the password of the userinfo (scheme://user:PASSWORD@host) becomes ***; a user
 *   alone is left as it is. The userinfo ends at the last '@' before the first '/',
 *   '?' or '#', as FFmpeg reads it, so an encoded '@' (%40) stays inside the
 *   password. A text cut short in the middle of a password ("rtsp://admin:pa", no
 *   '@' and no port after the ':') hides what follows the ':' too;
 * - in the query and the fragment, the value of a parameter whose name looks secret
 *   becomes ***: the name (percent-decoded, case ignored) is or ends with password,
 *   passwd, passphrase, pass, pwd, token, secret, key, auth, authorization,
 *   signature, sig, credential or credentials, or contains password, passwd, secret,
 *   token or credential (api_key, access_token, X-Amz-Signature, sessionToken).
 * A URL ends at white space, a control character, the quote or bracket that opened
 * it, or the end of the text; punctuation at its end (".,:;!?)") is not part of it.
 * A closing quote that a hidden password or value holds closes nothing: the URL
 * runs on to the next one, as it does in the rendering, so that a rendering
 * redacted again stays as it is. A URL that starts inside another one's query
 * ("?next=rtsp://...") has its authority end at that query's next '&' or ';' too.
 * Percent-encoded URLs inside a query value (next=http%3A%2F%2F...) are not looked
 * into.
 */
#ifndef AVF_REDACT_H
#define AVF_REDACT_H

#include <stddef.h>

#include <jansson.h>

/* The size of a buffer that shows a URL in a message: longer ones end in "...". */
#define AVF_URL_SHOWN 192

/*
 * Writes text with its secrets replaced by *** into out (out_size bytes, always
 * NUL-terminated when out_size > 0) and returns out. A text that does not fit is
 * cut at a character boundary and ends in "..."; a secret is never copied, so no
 * cut leaves a part of one. text NULL gives "".
 */
char *avf_redact(char *out, size_t out_size, const char *text);

/* Redacts every string of v (object values, array items, recursively) in place.
 * Returns how many strings changed, or AVERROR(ENOMEM). */
int avf_redact_json(json_t *v);

#endif
