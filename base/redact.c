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

#include "base/url.h"

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

/* The quotes and brackets that may open a URL, and the ones that close it. */
static const char openers[] = "'\"<([{`", closers[] = "'\">)]}`";
#define NB_QUOTES (sizeof(closers) - 1)

/* end, less the punctuation that ends a sentence rather than a URL; never below floor. */
static size_t strip_punctuation(const char *t, size_t end, size_t floor)
{
    while (end > floor && strchr(".,:;!?)", t[end - 1]))
        end--;
    return end;
}

/* Where the URL whose "://" is at sep ends. */
typedef struct url_bounds {
    size_t unquoted; /* white space or the end of the text */
    size_t raw;      /* that, or the quote or bracket that opened the URL */
    size_t end;      /* raw, without punctuation at the end */
    size_t quote;    /* the index in closers[] of the quote that closes it at raw,
                      * NB_QUOTES when raw is unquoted */
} url_bounds;

static url_bounds bounds_of(const char *t, size_t n, size_t sep)
{
    url_bounds b = {0, 0, 0, NB_QUOTES};
    size_t s = sep;
    const char *open;
    char close = 0;

    while (s > 0 && is_scheme_char((unsigned char)t[s - 1]))
        s--;
    if (s > 0 && (open = memchr(openers, t[s - 1], NB_QUOTES)))
        close = closers[open - openers];
    for (b.unquoted = sep + 3; b.unquoted < n && !is_space((unsigned char)t[b.unquoted]);
         b.unquoted++)
        if (!b.raw && close && t[b.unquoted] == close)
            b.raw = b.unquoted;
    if (b.raw)
        b.quote = (size_t)(strchr(closers, close) - closers);
    else
        b.raw = b.unquoted;
    b.end = strip_punctuation(t, b.raw, sep + 3);
    return b;
}

/* The length of the start of s (n bytes at most) that holds none of reject. */
static size_t strcspn_n(const char *s, size_t n, const char *reject)
{
    size_t i = 0;

    while (i < n && !strchr(reject, s[i]))
        i++;
    return i;
}

/*
 * The password of the authority that starts at a, as [*h0, *h1); 0 when there is
 * none. in_query: the URL starts inside another one's query, whose next parameter
 * ('&' or ';') ends the authority too: that parameter's value may be hidden, and
 * with it the '/', '?' or '#' that would have ended the authority.
 */
static int find_password(const char *t, size_t a, const url_bounds *b, int in_query, size_t *h0,
                         size_t *h1)
{
    size_t ae = a + avf_url_authority_len(t + a, b->raw - a), user, pass, colon = 0, i;
    int bracket = 0, digits = 1;

    if (in_query)
        ae = a + strcspn_n(t + a, ae - a, "&;");
    if (avf_url_userinfo(t + a, ae - a, &user)) {
        if (!avf_url_password(t + a, user, &pass) || pass == user)
            return 0; /* a user alone, or an empty password */
        *h0 = a + pass;
        *h1 = a + user;
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

/*
 * One left-to-right pass over a text. Its rendering must read the same when it is
 * redacted again, so no decision may rest on a quote that the rendering hides: a
 * quote inside a secret closes no URL.
 */
typedef struct redactor {
    const char *t;
    size_t n;
    out_buf o;
    size_t copied;  /* t[0, copied) is written out, or hidden */
    size_t url_end; /* the end of the URL that reaches furthest so far */
    int in_query;   /* in the query or fragment of a URL: '&' and ';' separate parameters */
    /* for each quote, where the URLs it opened close, or 0: the URLs opened by the
     * same quote that are still open all close at the first such quote after the
     * last of them */
    size_t close_at[NB_QUOTES];
} redactor;

/*
 * t[h0, h1) is hidden: a URL whose closing quote was in it runs on to the next such
 * quote (or to white space), where the rendering, without that quote, closes it.
 * A hidden part never holds white space (it stays inside its URL), so white space
 * is where it is in the rendering too.
 */
static void reopen(redactor *r, size_t h0, size_t h1)
{
    for (size_t k = 0; k < NB_QUOTES; k++) {
        size_t c = r->close_at[k], end;

        if (c < h0 || c >= h1)
            continue;
        for (c = h1; c < r->n && !is_space((unsigned char)r->t[c]) && r->t[c] != closers[k]; c++)
            ;
        r->close_at[k] = c;
        /* the punctuation before it, down to the *** in the rendering */
        end = strip_punctuation(r->t, c, h1);
        if (end > r->url_end)
            r->url_end = end;
    }
}

/* Writes the text up to h0, then *** for t[h0, h1). */
static void hide(redactor *r, size_t h0, size_t h1)
{
    put(&r->o, r->t + r->copied, h0 - r->copied);
    put(&r->o, "***", 3);
    r->copied = h1;
}

/* The "://" at i starts a URL: hides its password; returns where to go on. */
static size_t url_start(redactor *r, size_t i)
{
    url_bounds b = bounds_of(r->t, r->n, i);
    size_t h0, h1;

    if (b.end > r->url_end)
        r->url_end = b.end;
    if (b.quote < NB_QUOTES)
        r->close_at[b.quote] = b.raw;
    i += 3;
    if (!find_password(r->t, i, &b, r->in_query, &h0, &h1))
        return i;
    hide(r, h0, h1);
    /* a password that ran past the quote that closed the URL */
    reopen(r, h0, h1);
    return h1;
}

/* The query parameter whose name starts at name: hides a secret value; returns where
 * to go on. */
static size_t parameter(redactor *r, size_t name)
{
    const char *t = r->t;
    size_t i = name, value, from;

    /* a "://" in a name is no name: the URL it starts is looked at */
    while (i < r->url_end && !strchr("=&;#?", t[i]) && strncmp(t + i, "://", 3))
        i++;
    if (i >= r->url_end || t[i] != '=' || !name_is_secret(t + name, i - name))
        return i;
    value = ++i;
    /* a value that hides a quote reaches as far as the URL that it closed now does */
    do {
        from = i;
        while (i < r->url_end && !strchr("&;#", t[i]))
            i++;
        reopen(r, from, i);
    } while (i < r->url_end && !strchr("&;#", t[i]));
    if (i > value)
        hide(r, value, i);
    return i;
}

char *avf_redact(char *out, size_t out_size, const char *text)
{
    redactor r = {.t = text ? text : "", .o = {out, out_size, 0, 0}};
    size_t i = 0;

    r.n = strlen(r.t);
    while (i < r.n) {
        if (i >= r.url_end)
            r.in_query = 0;
        if (!strncmp(r.t + i, "://", 3)) {
            i = url_start(&r, i);
        } else if (i < r.url_end && (r.t[i] == '?' || r.t[i] == '#' ||
                                     (r.in_query && (r.t[i] == '&' || r.t[i] == ';')))) {
            r.in_query = 1;
            i = parameter(&r, i + 1);
        } else {
            i++;
        }
    }
    put(&r.o, r.t + r.copied, r.n - r.copied);
    finish(&r.o);
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
