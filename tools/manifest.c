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
    m->rows = NULL;
    m->n = 0;
}

int avf_manifest_load(avf_manifest *m, const char *path, char *why, size_t why_size)
{
    static const char *const columns[] = {"file", "start", "end", "content", "valence", "arousal"};
    char line[4096], *fields[16], dir[4096];
    const char *slash = strrchr(path, '/');
    int col[6], lineno = 1, cap = 0, ret = AVERROR_INVALIDDATA;
    FILE *f = fopen(path, "r");

    m->rows = NULL;
    m->n = 0;
    if (!f) {
        snprintf(why, why_size, "%s: %s", path, strerror(errno));
        return AVERROR(errno);
    }
    snprintf(dir, sizeof(dir), "%.*s", slash ? (int)(slash - path) : 1, slash ? path : ".");
    if (!fgets(line, sizeof(line), f)) {
        snprintf(why, why_size, "%s:1: empty manifest", path);
        goto fail;
    }
    {
        int n = split(line, fields, 16);

        for (int c = 0; c < 6; c++) {
            col[c] = -1;
            for (int i = 0; i < n; i++)
                if (!strcmp(fields[i], columns[c]))
                    col[c] = i;
            if (col[c] < 0) {
                snprintf(why, why_size, "%s:1: no '%s' column in the header", path, columns[c]);
                goto fail;
            }
        }
    }
    while (fgets(line, sizeof(line), f)) {
        avf_manifest_row r;
        int n, need = 0;

        lineno++;
        if (line[strspn(line, " \t\r\n")] == '\0')
            continue;
        n = split(line, fields, 16);
        for (int c = 0; c < 6; c++)
            need = col[c] + 1 > need ? col[c] + 1 : need;
        if (n < need) {
            snprintf(why, why_size, "%s:%d: %d fields, the header has %d", path, lineno, n, need);
            goto fail;
        }
        if (!*fields[col[0]]) {
            snprintf(why, why_size, "%s:%d: empty file name", path, lineno);
            goto fail;
        }
        if (parse_time(fields[col[1]], 0, &r.start) < 0 ||
            parse_time(fields[col[2]], INFINITY, &r.end) < 0 || r.end <= r.start) {
            snprintf(why, why_size, "%s:%d: start/end must be seconds with start < end", path,
                     lineno);
            goto fail;
        }
        r.content = lookup(fields[col[3]], avf_content_names, AVF_CONTENT_COUNT);
        r.valence = lookup(fields[col[4]], avf_valence_names, 3);
        r.arousal = lookup(fields[col[5]], avf_arousal_names, 3);
        if (r.content == -2 || r.valence == -2 || r.arousal == -2) {
            snprintf(why, why_size,
                     "%s:%d: unknown label (content: speech|music|noise|silence, valence: "
                     "negative|neutral|positive, arousal: low|medium|high, or empty)",
                     path, lineno);
            goto fail;
        }
        if (fields[col[0]][0] == '/')
            r.path = strdup(fields[col[0]]);
        else {
            size_t len = strlen(dir) + strlen(fields[col[0]]) + 2;

            r.path = malloc(len);
            if (r.path)
                snprintf(r.path, len, "%s/%s", dir, fields[col[0]]);
        }
        if (!r.path)
            goto nomem;
        if (m->n == cap) {
            avf_manifest_row *rows;

            cap = cap ? cap * 2 : 256;
            rows = realloc(m->rows, (size_t)cap * sizeof(*rows));
            if (!rows) {
                free(r.path);
                goto nomem;
            }
            m->rows = rows;
        }
        m->rows[m->n++] = r;
    }
    fclose(f);
    if (m->n == 0) {
        snprintf(why, why_size, "%s: no rows", path);
        return AVERROR_INVALIDDATA;
    }
    return 0;
nomem:
    ret = AVERROR(ENOMEM);
    snprintf(why, why_size, "out of memory");
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

static int extract_row(const worker *w, int i)
{
    const avf_manifest_row *r = &w->m->rows[i];
    avf_dataset *d = &w->per_row[i];
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

        if (seg && fused && t0 >= r->start - 1e-6 && t1 <= r->end + 1e-6 &&
            t1 - t0 >= MIN_SEGMENT_S) {
            int content = r->content, valence = r->valence, arousal = r->arousal;
            double rms = w->rms >= 0 ? fused[w->rms] : NAN;

            if (isfinite(rms) && rms < AVF_TAG_SILENCE_DBFS) {
                content = AVF_SILENCE;
                valence = arousal = -1;
            }
            ret = avf_dataset_append(d, fused, content, valence, arousal, i);
        }
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

static void *worker_main(void *arg)
{
    worker *w = arg;

    for (int i = w->first; i < w->m->n; i += w->step)
        w->row_failed[i] = extract_row(w, i) < 0;
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
