/*
 * redact.c - URLs shown to people without their passwords and tokens.
 *
 * Camera URLs carry passwords (rtsp://admin:PASSWORD@cam/) and signed links carry
 * tokens; the daemon echoes its inputs in errors, and FFmpeg echoes them in its own
 * log lines, so one function renders any text for people and every exit of the
 * process calls it (the rule is in redact.h). It works on whole lines, not on URLs
 * alone, because the URL may be anywhere in a message ("Did you mean
 * file:rtsp://..."), and in one pass from left to right: what is secret is skipped
 * in the input and "***" written instead, so the output holds no part of a secret
 * wherever it is cut.
 */
#include "base/redact.h"

#include <stdlib.h>
#include <string.h>

#include <libavutil/error.h>

typedef struct out_buf {
    char *p;
    size_t size, len;
    int cut; /* something did not fit */
} out_buf;

static void put(out_buf *o, const char *s, size_t n)
{
    size_t room;

    if (o->cut || !o->size)
        return;
    room = o->size - 1 - o->len;
    if (n > room) {
        n = room;
        o->cut = 1;
    }
    memcpy(o->p + o->len, s, n);
    o->len += n;
}

/* Ends a cut text in "..." at a UTF-8 character boundary. */
static void finish(out_buf *o)
{
    if (!o->size)
        return;
    if (o->cut && o->size >= 4) {
        if (o->len > o->size - 4)
            o->len = o->size - 4;
        while (o->len > 0 && ((unsigned char)o->p[o->len] & 0xc0) == 0x80)
            o->len--;
        memcpy(o->p + o->len, "...", 3);
        o->len += 3;
    }
    o->p[o->len] = '\0';
}

static int lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

static int hex_value(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = lower(c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static int ends_with(const char *s, size_t n, const char *suffix)
{
    size_t m = strlen(suffix);

    return n >= m && !memcmp(s + n - m, suffix, m);
}

/* 1 when a query parameter called name (n bytes, as in the URL) holds a secret. */
static int name_is_secret(const char *name, size_t n)
{
    static const char *const suffixes[] = {
        "password", "passwd", "passphrase",    "pass",      "pwd", "token",      "secret",
        "key",      "auth",   "authorization", "signature", "sig", "credential", "credentials",
    };
    static const char *const parts[] = {"password", "passwd", "secret", "token", "credential"};
    char low[64];
    size_t m = 0;

    for (size_t i = 0; i < n; i++) {
        int c = (unsigned char)name[i];

        if (m == sizeof(low) - 1)
            return 1; /* too long to judge: hide it */
        if (c == '%' && i + 2 < n && hex_value(name[i + 1]) >= 0 && hex_value(name[i + 2]) >= 0) {
            c = hex_value(name[i + 1]) * 16 + hex_value(name[i + 2]);
            i += 2;
        }
        low[m++] = (char)lower(c);
    }
    low[m] = '\0';
    for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++)
        if (ends_with(low, m, suffixes[i]))
            return 1;
    for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++)
        if (strstr(low, parts[i]))
            return 1;
    return 0;
}

static int is_scheme_char(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '+' ||
           c == '.' || c == '-';
}

static int is_space(int c)
{
    return c <= 0x20 || c == 0x7f;
}

/* Where the URL whose "://" is at sep ends. */
typedef struct url_bounds {
    size_t unquoted;     /* white space or the end of the text */
    size_t raw;          /* that, or the quote or bracket that opened the URL */
    size_t end;          /* raw, without punctuation at the end */
    size_t end_unquoted; /* unquoted, without punctuation at the end */
} url_bounds;

static url_bounds bounds_of(const char *t, size_t n, size_t sep)
{
    static const char openers[] = "'\"<([{`", closers[] = "'\">)]}`";
    url_bounds b;
    size_t s = sep;
    const char *open;
    char close = 0;

    while (s > 0 && is_scheme_char((unsigned char)t[s - 1]))
        s--;
    if (s > 0 && (open = memchr(openers, t[s - 1], sizeof(openers) - 1)))
        close = closers[open - openers];
    b.unquoted = b.raw = 0;
    for (b.unquoted = sep + 3; b.unquoted < n && !is_space((unsigned char)t[b.unquoted]);
         b.unquoted++)
        if (!b.raw && close && t[b.unquoted] == close)
            b.raw = b.unquoted;
    if (!b.raw)
        b.raw = b.unquoted;
    for (b.end = b.raw; b.end > sep + 3 && strchr(".,:;!?)", t[b.end - 1]); b.end--)
        ;
    for (b.end_unquoted = b.unquoted;
         b.end_unquoted > sep + 3 && strchr(".,:;!?)", t[b.end_unquoted - 1]); b.end_unquoted--)
        ;
    return b;
}

/*
 * The password of the authority that starts at a, as [*h0, *h1); 0 when there is
 * none.
 */
static int find_password(const char *t, size_t a, const url_bounds *b, size_t *h0, size_t *h1)
{
    size_t ae = a, at = 0, colon = 0, i;
    int bracket = 0, digits = 1;

    while (ae < b->raw && t[ae] != '/' && t[ae] != '?' && t[ae] != '#')
        ae++;
    for (i = a; i < ae; i++)
        if (t[i] == '@')
            at = i + 1;
    if (at) {
        at--;
        /* the first ':' outside brackets (as the host's rule below), else any */
        for (i = a; i < at && (t[i] != ':' || bracket); i++)
            bracket = t[i] == '[' ? 1 : t[i] == ']' ? 0 : bracket;
        if (i >= at)
            for (i = a; i < at && t[i] != ':'; i++)
                ;
        if (i + 1 >= at)
            return 0; /* a user alone, or an empty password */
        *h0 = i + 1;
        *h1 = at;
        return 1;
    }
    /* no '@': a host and port, or a text cut in the middle of a password; the
     * punctuation after a port ("tcp://host:5560, ...") is no part of it */
    if (ae > b->end)
        ae = b->end;
    for (i = a; i < ae; i++) {
        if (t[i] == '[')
            bracket = 1;
        else if (t[i] == ']')
            bracket = 0;
        else if (t[i] == ':' && !bracket && !colon)
            colon = i + 1;
        else if (colon && (t[i] < '0' || t[i] > '9'))
            digits = 0;
    }
    if (!colon || colon == ae || digits)
        return 0;
    *h0 = colon;
    *h1 = ae;
    /* a '/', '?' or quote written raw in a password: hide up to its '@', the last
     * one before the host's end */
    for (i = ae; i < b->unquoted; i++)
        if (t[i] == '@') {
            *h1 = i;
            for (i++; i < b->unquoted && t[i] != '/' && t[i] != '?' && t[i] != '#'; i++)
                if (t[i] == '@')
                    *h1 = i;
            break;
        }
    return 1;
}

char *avf_redact(char *out, size_t out_size, const char *text)
{
    out_buf o = {out, out_size, 0, 0};
    size_t n, i = 0, copied = 0, url_end = 0, h0, h1;
    int in_query = 0;

    if (!text)
        text = "";
    n = strlen(text);
    while (i < n) {
        if (i >= url_end)
            in_query = 0;
        if (text[i] == ':' && text[i + 1] == '/' && text[i + 2] == '/') {
            url_bounds b = bounds_of(text, n, i);

            if (b.end > url_end)
                url_end = b.end;
            i += 3;
            if (find_password(text, i, &b, &h0, &h1)) {
                /* a password that ran past a quote: the URL did too */
                if (h1 > b.end && b.end_unquoted > url_end)
                    url_end = b.end_unquoted;
                put(&o, text + copied, h0 - copied);
                put(&o, "***", 3);
                copied = i = h1;
            }
            continue;
        }
        if (i < url_end && (text[i] == '?' || text[i] == '#' ||
                            (in_query && (text[i] == '&' || text[i] == ';')))) {
            size_t name = ++i, value;

            in_query = 1;
            /* a "://" in a name is no name: the URL it starts is looked at */
            while (i < url_end && !strchr("=&;#?", text[i]) && strncmp(text + i, "://", 3))
                i++;
            if (i < url_end && text[i] == '=' && name_is_secret(text + name, i - name)) {
                for (value = ++i; i < url_end && !strchr("&;#", text[i]); i++)
                    ;
                if (i > value) {
                    put(&o, text + copied, value - copied);
                    put(&o, "***", 3);
                    copied = i;
                }
            }
            continue;
        }
        i++;
    }
    put(&o, text + copied, n - copied);
    finish(&o);
    return out;
}

int avf_redact_json(json_t *v)
{
    const char *key, *s;
    json_t *item;
    size_t i, size;
    char *buf;
    int changed = 0, ret;

    if (json_is_object(v)) {
        json_object_foreach(v, key, item)
        {
            if ((ret = avf_redact_json(item)) < 0)
                return ret;
            changed += ret;
        }
    } else if (json_is_array(v)) {
        json_array_foreach(v, i, item)
        {
            if ((ret = avf_redact_json(item)) < 0)
                return ret;
            changed += ret;
        }
    } else if (json_is_string(v)) {
        s = json_string_value(v);
        if (!strstr(s, "://"))
            return 0;
        /* *** is at most 3 bytes for each byte it hides */
        size = 3 * strlen(s) + 4;
        buf = malloc(size);
        if (!buf)
            return AVERROR(ENOMEM);
        avf_redact(buf, size, s);
        if (strcmp(buf, s)) {
            ret = json_string_set(v, buf);
            changed = ret < 0 ? AVERROR(ENOMEM) : 1;
        }
        free(buf);
    }
    return changed;
}
