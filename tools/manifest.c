/*
 * manifest.c - reads manifests and turns their rows into labelled fused vectors.
 *
 * Extraction runs the same pipeline as `avfuse analyze`, so a model is trained on
 * exactly the features it will see. Rows are spread over worker threads, each
 * writing into its own per-row dataset; the rows are joined in manifest order at
 * the end, so the dataset (and the model fitted on it) does not depend on which
 * thread finished first.
 */
#include "tools/manifest.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavutil/error.h>

#include "base/log.h"
#include "fusion/heads.h"
#include "fusion/tags.h"
#include "fusion/vector.h"
#include "base/error.h"

/* A last segment shorter than this has too few windows to label. */
#define MIN_SEGMENT_S 0.25

static int lookup(const char *value, const char *const *names, int n)
{
    if (!*value)
        return -1;
    for (int i = 0; i < n; i++)
        if (!strcmp(value, names[i]))
            return i;
    return -2;
}

/* A content field: classes joined by '+' into a bitmask; 0 when empty, -1 when a
 * part is not a class name. */
static int parse_content(const char *value)
{
    char part[64];
    int mask = 0;

    if (!*value)
        return 0;
    for (const char *p = value;;) {
        size_t len = strcspn(p, "+");
        int c;

        if (len == 0 || len >= sizeof(part))
            return -1;
        memcpy(part, p, len);
        part[len] = '\0';
        c = lookup(part, avf_content_names, AVF_CONTENT_COUNT);
        if (c < 0)
            return -1;
        mask |= 1 << c;
        if (!p[len])
            return mask;
        p += len + 1;
    }
}

/* Splits line at commas in place (no quoting: the manifest's fields have none). */
static int split(char *line, char **fields, int max)
{
    int n = 0;

    line[strcspn(line, "\r\n")] = '\0';
    fields[n++] = line;
    for (char *p = line; *p && n < max; p++)
        if (*p == ',') {
            *p = '\0';
            fields[n++] = p + 1;
        }
    return n;
}

static int parse_time(const char *s, double dflt, double *out)
{
    char *end;

    if (!*s) {
        *out = dflt;
        return 0;
    }
    *out = strtod(s, &end);
    return *end || !isfinite(*out) || *out < 0 ? -1 : 0;
}

void avf_manifest_clear(avf_manifest *m)
{
    for (int i = 0; i < m->n; i++)
        free(m->rows[i].path);
    free(m->rows);
    for (int g = 0; g < m->nb_groups; g++)
        free(m->groups[g]);
    free(m->groups);
    memset(m, 0, sizeof(*m));
}

int avf_manifest_fold(const char *group, int k)
{
    uint64_t h = 0xcbf29ce484222325ULL;

    for (const unsigned char *p = (const unsigned char *)group; *p; p++)
        h = (h ^ *p) * 0x100000001b3ULL;
    return k > 0 ? (int)(h % (uint64_t)k) : 0;
}

/* The index of group name in m->groups, added if new; or AVERROR(ENOMEM). */
static int group_index(avf_manifest *m, const char *name)
{
    char **groups;

    for (int g = m->nb_groups - 1; g >= 0; g--)
        if (!strcmp(m->groups[g], name))
            return g;
    groups = realloc(m->groups, (size_t)(m->nb_groups + 1) * sizeof(*groups));
    if (!groups)
        return AVERROR(ENOMEM);
    m->groups = groups;
    if (!(groups[m->nb_groups] = strdup(name)))
        return AVERROR(ENOMEM);
    return m->nb_groups++;
}

/* The columns of the header: file, start, end, content, valence, arousal, group. */
enum { COL_FILE, COL_START, COL_END, COL_CONTENT, COL_VALENCE, COL_AROUSAL, COL_GROUP, NB_COLS };

/* Reads the header into col (-1 for an absent optional group column). */
static int parse_header(char *line, int col[NB_COLS], const char *path, char *why, size_t why_size)
{
    static const char *const columns[NB_COLS] = {"file",    "start",   "end",  "content",
                                                 "valence", "arousal", "group"};
    char *fields[16];
    int n = split(line, fields, 16);

    for (int c = 0; c < NB_COLS; c++) {
        col[c] = -1;
        for (int i = 0; i < n; i++)
            if (!strcmp(fields[i], columns[c]))
                col[c] = i;
        if (col[c] < 0 && c != COL_GROUP) {
            snprintf(why, why_size, "%s:1: no '%s' column in the header", path, columns[c]);
            return AVERROR_INVALIDDATA;
        }
    }
    return 0;
}

/* Sets r's labels and times from the fields; a message in why on failure. */
static int parse_labels(char **fields, const int *col, avf_manifest_row *r, const char *where,
                        char *why, size_t why_size)
{
    if (parse_time(fields[col[COL_START]], 0, &r->start) < 0 ||
        parse_time(fields[col[COL_END]], INFINITY, &r->end) < 0 || r->end <= r->start) {
        snprintf(why, why_size, "%s: start/end must be seconds with start < end", where);
        return AVERROR_INVALIDDATA;
    }
    r->content = parse_content(fields[col[COL_CONTENT]]);
    if (r->content < 0) {
        snprintf(why, why_size,
                 "%s: unknown content '%s' (speech, music, noise or silence, or several "
                 "joined by '+' such as speech+music, or empty)",
                 where, fields[col[COL_CONTENT]]);
        return AVERROR_INVALIDDATA;
    }
    r->valence = lookup(fields[col[COL_VALENCE]], avf_valence_names, 3);
    r->arousal = lookup(fields[col[COL_AROUSAL]], avf_arousal_names, 3);
    if (r->valence == -2 || r->arousal == -2) {
        snprintf(why, why_size,
                 "%s: unknown label (valence: negative, neutral or positive; arousal: low, "
                 "medium or high; or empty)",
                 where);
        return AVERROR_INVALIDDATA;
    }
    return 0;
}

/* The file's path resolved against the manifest's folder dir, or NULL (ENOMEM). */
static char *resolve(const char *dir, const char *file)
{
    size_t len = strlen(dir) + strlen(file) + 2;
    char *path;

    if (file[0] == '/')
        return strdup(file);
    path = malloc(len);
    if (path)
        snprintf(path, len, "%s/%s", dir, file);
    return path;
}

/*
 * Sets r's run and group: a row of the previous row's file that starts where it
 * ended continues its run and must be of its group (or give none).
 */
static int assign_run(avf_manifest *m, avf_manifest_row *r, char **fields, const int *col,
                      const char *where, char *why, size_t why_size)
{
    const avf_manifest_row *prev = m->n ? &m->rows[m->n - 1] : NULL;
    const char *group = col[COL_GROUP] >= 0 ? fields[col[COL_GROUP]] : "";
    int g;

    if (prev && !strcmp(prev->path, r->path) && isfinite(prev->end) &&
        fabs(r->start - prev->end) < 1e-6) {
        r->run = prev->run;
        r->group = prev->group;
        if (*group && strcmp(group, m->groups[prev->group])) {
            snprintf(why, why_size,
                     "%s: group '%s' in a run of group '%s' (a row starting "
                     "where the previous row of its file ended continues its run)",
                     where, group, m->groups[prev->group]);
            return AVERROR_INVALIDDATA;
        }
        return 0;
    }
    r->run = m->n;
    g = group_index(m, *group ? group : fields[col[COL_FILE]]);
    if (g < 0) {
        snprintf(why, why_size, "out of memory");
        return g;
    }
    r->group = g;
    return 0;
}

/* Parses one data line into a new row of m. */
static int parse_row(avf_manifest *m, char *line, const int *col, const char *dir,
                     const char *where, char *why, size_t why_size)
{
    char *fields[16];
    avf_manifest_row r;
    int n = split(line, fields, 16), need = 0, ret;

    for (int c = 0; c < NB_COLS; c++)
        need = col[c] + 1 > need ? col[c] + 1 : need;
    if (n < need) {
        snprintf(why, why_size, "%s: %d fields, the header has %d", where, n, need);
        return AVERROR_INVALIDDATA;
    }
    if (!*fields[col[COL_FILE]]) {
        snprintf(why, why_size, "%s: empty file name", where);
        return AVERROR_INVALIDDATA;
    }
    if ((ret = parse_labels(fields, col, &r, where, why, why_size)) < 0)
        return ret;
    if (!(r.path = resolve(dir, fields[col[COL_FILE]])))
        goto nomem;
    if ((ret = assign_run(m, &r, fields, col, where, why, why_size)) < 0) {
        free(r.path);
        return ret;
    }
    if (!(m->n & (m->n - 1))) { /* at 0, 1, 2, 4, 8...: double the room */
        avf_manifest_row *rows = realloc(m->rows, (size_t)(m->n ? 2 * m->n : 1) * sizeof(*rows));

        if (!rows) {
            free(r.path);
            goto nomem;
        }
        m->rows = rows;
    }
    m->rows[m->n++] = r;
    return 0;
nomem:
    snprintf(why, why_size, "out of memory");
    return AVERROR(ENOMEM);
}

int avf_manifest_load(avf_manifest *m, const char *path, char *why, size_t why_size)
{
    char line[4096], dir[4096], where[4200];
    const char *slash = strrchr(path, '/');
    int col[NB_COLS], lineno = 1, ret = AVERROR_INVALIDDATA;
    FILE *f = fopen(path, "r");

    memset(m, 0, sizeof(*m));
    if (!f) {
        snprintf(why, why_size, "%s: %s", path, strerror(errno));
        return AVERROR(errno);
    }
    snprintf(dir, sizeof(dir), "%.*s", slash ? (int)(slash - path) : 1, slash ? path : ".");
    if (!fgets(line, sizeof(line), f)) {
        snprintf(why, why_size, "%s:1: empty manifest", path);
        goto fail;
    }
    if ((ret = parse_header(line, col, path, why, why_size)) < 0)
        goto fail;
    while (fgets(line, sizeof(line), f)) {
        lineno++;
        if (line[strspn(line, " \t\r\n")] == '\0')
            continue;
        snprintf(where, sizeof(where), "%s:%d", path, lineno);
        if ((ret = parse_row(m, line, col, dir, where, why, why_size)) < 0)
            goto fail;
    }
    fclose(f);
    if (m->n == 0) {
        snprintf(why, why_size, "%s: no rows", path);
        return AVERROR_INVALIDDATA;
    }
    return 0;
fail:
    fclose(f);
    avf_manifest_clear(m);
    return ret;
}

typedef struct worker {
    const avf_manifest *m;
    const avf_pipeline_config *cfg;
    int first, step;
    int rms;              /* index of audio.rms_dbfs in the fused vector, or -1 */
    avf_dataset *per_row; /* one per manifest row */
    int *row_failed;
} worker;

/* The row of the run starting at row `first` whose [start, end) holds [t0, t1), or -1. */
static int holding_row(const avf_manifest *m, int first, double t0, double t1)
{
    for (int i = first; i < m->n && m->rows[i].run == first; i++)
        if (t0 >= m->rows[i].start - 1e-6 && t1 <= m->rows[i].end + 1e-6)
            return i;
    return -1;
}

/* Appends a segment's fused vector to its row's dataset, labelled by the row. */
static int add_segment(const worker *w, int i, const double *fused, double t0, double t1)
{
    const avf_manifest_row *r = &w->m->rows[i];
    avf_dataset_label label = {r->content, r->valence, r->arousal, i, r->group, r->run, t0, t1};
    double rms = w->rms >= 0 ? fused[w->rms] : NAN;

    if (isfinite(rms) && rms < AVF_TAG_SILENCE_DBFS) {
        label.content = 1 << AVF_SILENCE;
        label.valence = label.arousal = -1;
    }
    return avf_dataset_append(&w->per_row[i], fused, &label);
}

/* Analyzes the run of rows starting at row `first` as one stream. */
static int extract_run(const worker *w, int first)
{
    const avf_manifest_row *r = &w->m->rows[first];
    avf_sched *s = NULL;
    avf_result *res = NULL;
    char err[128];
    int ret = avf_sched_open(&s, r->path, w->cfg);

    if (ret >= 0)
        ret = avf_sched_start(s);
    while (ret >= 0 && avf_sched_receive(s, &res) == 0) {
        const avf_segment *seg = res->seg; /* NULL: the end's events, not wanted here */
        const double *fused = res->out.fused;
        double t0 = seg ? seg->t0_us / 1e6 : 0, t1 = seg ? seg->t1_us / 1e6 : 0;
        int row = seg && fused && t1 - t0 >= MIN_SEGMENT_S ? holding_row(w->m, first, t0, t1) : -1;

        if (row >= 0)
            ret = add_segment(w, row, fused, t0, t1);
        avf_result_free(&res);
    }
    if (ret >= 0) {
        avf_pipeline_stats stats;

        ret = avf_sched_wait(s, &stats);
        if (ret >= 0 && stats.read_error < 0)
            ret = stats.read_error;
    }
    avf_sched_free(&s);
    if (ret < 0)
        avf_log(AVF_LOG_ERROR, r->path, "%s", avf_strerror(ret, err, sizeof(err)));
    return ret;
}

/* Runs the worker's share of the runs: every step-th run from its first. */
static void *worker_main(void *arg)
{
    worker *w = arg;
    int run = 0;

    for (int i = 0; i < w->m->n; i++) {
        if (w->m->rows[i].run != i)
            continue;
        if (run++ % w->step == w->first) {
            int failed = extract_run(w, i) < 0;

            for (int j = i; j < w->m->n && w->m->rows[j].run == i; j++)
                w->row_failed[j] = failed;
        }
    }
    return NULL;
}

int avf_manifest_extract(const avf_manifest *m, const avf_pipeline_config *cfg, int jobs,
                         avf_dataset *d, int *failed)
{
    const avf_fused_layout *l = cfg->fused;
    avf_dataset *per_row = calloc((size_t)m->n, sizeof(*per_row));
    int *row_failed = calloc((size_t)m->n, sizeof(*row_failed));
    worker workers[16];
    pthread_t threads[16];
    int rms, ret = 0, started = 0;

    *failed = 0;
    if (!per_row || !row_failed) {
        free(per_row);
        free(row_failed);
        return AVERROR(ENOMEM);
    }
    rms = avf_fused_find(l, "audio.rms_dbfs");
    for (int i = 0; i < m->n; i++)
        avf_dataset_init(&per_row[i], l->dim);
    jobs = jobs < 1 ? 1 : jobs > 16 ? 16 : jobs;
    for (int j = 0; j < jobs; j++)
        workers[j] = (worker){m, cfg, j, jobs, rms, per_row, row_failed};
    for (int j = 0; j < jobs; j++) {
        if (pthread_create(&threads[j], NULL, worker_main, &workers[j]) != 0)
            break;
        started++;
    }
    for (int j = 0; j < started; j++)
        pthread_join(threads[j], NULL);
    if (started < jobs) /* the missing workers' rows, on this thread */
        for (int j = started; j < jobs; j++)
            worker_main(&workers[j]);
    for (int i = 0; i < m->n; i++) {
        *failed += row_failed[i];
        if (ret >= 0)
            ret = avf_dataset_extend(d, &per_row[i]);
        avf_dataset_clear(&per_row[i]);
    }
    free(per_row);
    free(row_failed);
    return ret;
}
