/*
 * url.c - the userinfo of a URL and its password, found one way.
 *
 * Three places need it: the configuration (password_file wants a user and no
 * password in the url), the redaction (the password becomes ***) and the source name
 * made from a URL (never its user or password). They must agree with FFmpeg on where
 * the userinfo ends, so the rule is written once, here.
 */
#include "base/url.h"

#include <string.h>

size_t avf_url_authority_len(const char *auth, size_t n)
{
    size_t i = 0;

    while (i < n && auth[i] && auth[i] != '/' && auth[i] != '?' && auth[i] != '#')
        i++;
    return i;
}

int avf_url_userinfo(const char *auth, size_t n, size_t *len)
{
    size_t end = avf_url_authority_len(auth, n);
    const char *at = NULL;

    for (size_t i = 0; i < end; i++)
        if (auth[i] == '@')
            at = auth + i;
    if (!at)
        return 0;
    *len = (size_t)(at - auth);
    return 1;
}

int avf_url_password(const char *userinfo, size_t len, size_t *at)
{
    size_t i;
    int bracket = 0;

    /* the first ':' outside brackets, as a host's port is found, else any */
    for (i = 0; i < len && (userinfo[i] != ':' || bracket); i++)
        bracket = userinfo[i] == '[' ? 1 : userinfo[i] == ']' ? 0 : bracket;
    if (i >= len)
        for (i = 0; i < len && userinfo[i] != ':'; i++)
            ;
    if (i >= len)
        return 0;
    *at = i + 1;
    return 1;
}
