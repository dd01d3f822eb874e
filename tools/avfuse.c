/*
 * avfuse.c - the command-line tool: `avfuse analyze FILE...`.
 *
 * analyze runs one pipeline per input, -j of them at a time (each pipeline is
 * already several threads), and writes one avfuse.segment.v1 JSON line per
 * segment: to stdout or one FILE in input order, or to one file per input in a
 * folder. An input that cannot be opened or breaks down is named in one error
 * line; the other inputs still run, and the exit status says whether any failed.
 *
 * Three pieces of shared state, each with its own lock: the ordered output (the
 * input at the head of the order writes straight through, later ones hold their
 * lines until their turn), the running pipelines (so a signal can stop them all),
 * and the progress bar (tools/progress.c), which owns the terminal line while it
 * is up: stderr (and stdout when it is that terminal) are replaced by stdio
 * streams of our own, so every line from any thread, the log's and FFmpeg's
 * included, wipes the bar, is written whole and has the bar redrawn under it.
 * Later subcommands (watch, ctl, train, eval) join the table in main().
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <pthread.h>
#include <search.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libavutil/avutil.h>

#include "tools/commands.h"
#include "tools/options.h"
#include "tools/progress.h"
#include "base/log.h"
#include "fusion/events.h"
#include "fusion/heads.h"
#include "fusion/message.h"
#include "fusion/tags.h"
#include "fusion/vector.h"
#include "base/error.h"
#include "engine/scheduler.h"
#include "tools/analyze.h"
#include "pipeline/source.h"
#include "plugins/loader.h"

#define JOBS_MAX 64

static void analyze_usage(FILE *f)
{
    fprintf(f,
            "usage: avfuse analyze [options] FILE...\n"
            "\n"
            "Cuts each input (a media file or a URL FFmpeg can open) into time segments\n"
            "and prints one avfuse.segment.v1 JSON line per segment.\n"
            "\n"
            "options:\n"
            "  -j, --jobs N         analyze N inputs at a time, from 1 to %d (default: half\n"
            "                       the processors, from 1 to 4); each input is one\n"
            "                       pipeline of several threads already\n"
            "  -o, --output FILE    write the JSON lines of all inputs to FILE instead of\n"
            "                       stdout, in input order\n"
            "  -o, --output DIR/    with a trailing '/' or an existing folder: one file per\n"
            "                       input, DIR/NAME.jsonl with NAME its source name (see\n"
            "                       --source); DIR is created if missing. Later inputs of\n"
            "                       the same NAME get NAME-2.jsonl, NAME-3.jsonl, ... (their\n"
            "                       messages keep source NAME). Lines go to NAME.jsonl.part,\n"
            "                       renamed to NAME.jsonl once the input is done; an input\n"
            "                       that fails or is interrupted keeps what was analyzed\n"
            "                       in NAME.jsonl.part (removed when empty, or when writing\n"
            "                       it failed)\n"
            "  --progress           show a progress bar on stderr: percent of the inputs'\n"
            "                       media time, speed in x real time, ETA, files done\n"
            "                       (default: when stderr is a terminal and not -q)\n"
            "  --no-progress        never show the progress bar\n"
            "  --hop SECONDS        start of one segment to the next (default 1.0)\n"
            "  --len SECONDS        segment length, at least --hop (default 1.0)\n"
            "  --fps RATE           analysis frame rate (default 10)\n"
            "  --width PIXELS       analysis frames are at most this wide (default 320)\n"
            "  --min-partial SECONDS\n"
            "                       a last segment shorter than this is codec padding,\n"
            "                       not content, and is not printed (default 0.05)\n"
            "  --timeout SECONDS    give up on a read that takes longer (default 10)\n"
            "  --plugin-dir DIR     also load the feature plugins (*.so) in DIR; the\n"
            "                       folder must not be writable by others (repeatable)\n"
            "  --no-features        only cut segments: no feature extraction or tags\n"
            "  --model FILE         the model of the content and sentiment heads (default:\n"
            "                       $AVFUSE_MODEL, else the installed default model, else\n"
            "                       models/default.model of the tree it was built from)\n"
            "  --events             also print avfuse.event.v1 lines (tag start/end)\n"
            "  --source NAME        source name in the messages ([A-Za-z0-9_-]{1,64}), one\n"
            "                       input only; default: the file name without extension\n"
            "  -v, --verbose        more log lines on stderr (repeat for debug)\n"
            "  -q, --quiet          only errors on stderr\n"
            "  -h, --help           show this help\n"
            "\n"
            "With -j above 1, the lines of each input stay together, in input order, on\n"
            "stdout or in -o FILE: an input's lines wait in memory until the inputs before\n"
            "it are written.\n"
            "\n"
            "SIGINT or SIGTERM stops every running input after the segment being cut (the\n"
            "last one partial), starts no other, and exits with 130; a second one exits\n"
            "at once.\n"
            "\n"
            "Exit status: 0 when every input was analyzed, 1 when any failed (each named\n"
            "in one error line), 2 on a usage error, 130 when interrupted.\n",
            JOBS_MAX);
}

static void main_usage(FILE *f)
{
    fprintf(f, "usage: avfuse COMMAND [options] ...\n"
               "\n"
               "commands:\n"
               "  analyze FILE...   segment media files and print JSON lines\n"
               "  watch [ENDPOINT]  subscribe to running daemons and print their messages\n"
               "  proxy FRONTEND BACKEND\n"
               "                    forward many daemons' messages to one endpoint\n"
               "  ctl COMMAND       talk to a running daemon's control socket (status,\n"
               "                    sources, add, remove, reload)\n"
               "  keygen NAME       make a CURVE key pair (NAME.key, NAME.pub)\n"
               "  train             fit the content and sentiment heads on a manifest\n"
               "  eval              score a model on a manifest\n"
               "  report INPUT      draw the timeline of a file or its JSON lines (SVG, HTML)\n"
               "\n"
               "Run 'avfuse COMMAND --help' for the options of a command.\n");
}

/* ------------------------------------------------------------------------- */
/* The batch: its inputs, the ordered output, the running pipelines          */
/* ------------------------------------------------------------------------- */

enum job_state { JOB_WAITING, JOB_RUNNING, JOB_DONE, JOB_FAILED };

typedef struct job {
    const char *path;                     /* argv's */
    char source[AVF_SOURCE_NAME_MAX + 1]; /* the messages' source name */
    /* -o DIR: DIR/NAME.jsonl and the .part it is written as, else NULL; set before
     * the workers start, freed by cmd_analyze() */
    char *out_path, *part_path;
    char file_name[AVF_SOURCE_NAME_MAX + 16]; /* NAME, suffixed when taken; -o DIR */
    /* The ordered output (stdout, -o FILE): lines held until the input's turn. */
    char *held;                 /* protected by batch.out_lock */
    size_t held_len, held_size; /* protected by batch.out_lock */
    int finished;               /* protected by batch.out_lock */
    avf_sched *sched;           /* protected by running_lock: while it runs */
    int stopped;                /* protected by running_lock: cut short by a stop */
    uint64_t segments;          /* its worker only */
    /* For the progress bar. */
    atomic_int state;            /* enum job_state */
    _Atomic int64_t duration_us; /* 0: not known yet, < 0: the input does not say */
    _Atomic int64_t analyzed_us; /* end of the last segment */
} job;

typedef struct batch {
    const avf_pipeline_config *cfg;
    int events;
    job *jobs;
    int nb_jobs;
    atomic_int next; /* atomic: the next input a worker takes */
    atomic_int halt; /* atomic: interrupted, or the shared output failed: start no input */
    /* The ordered output (stdout, -o FILE), or NULL with -o DIR. */
    FILE *out;
    const char *out_name;     /* for messages: the FILE, or "output" */
    pthread_mutex_t out_lock; /* lock order: out_lock before running_lock */
    int head;                 /* protected by out_lock: the input writing straight to out */
    int out_error;            /* protected by out_lock: errno of a failed write, or 0 */
    int out_lock_ready;       /* out_lock is initialized */
    int out_dir;              /* -o DIR: each input writes its own file */
} batch;

/*
 * SIGINT and SIGTERM end analyze cleanly: the inputs being read stop, what was
 * already decoded is still published (the last segment partial), later inputs
 * are skipped, and the exit status is 130. The signals are blocked in every
 * thread and taken by one thread with sigwait(), so no handler runs inside the
 * pipelines; a second signal exits at once. The batch's halt
 * flag is also the pipelines' stop flag, so an input still opening stops too.
 */
static pthread_mutex_t running_lock = PTHREAD_MUTEX_INITIALIZER;
static atomic_int interrupted; /* atomic */
static batch *signal_batch;    /* protected by running_lock: the batch while it runs */

static void halt_locked(batch *b)
{
    atomic_store(&b->halt, 1);
    for (int i = 0; i < b->nb_jobs; i++) {
        if (b->jobs[i].sched) {
            avf_sched_stop(b->jobs[i].sched);
            b->jobs[i].stopped = 1;
        }
    }
}

/* Stops every running pipeline and keeps new ones from starting. */
static void halt_all(batch *b)
{
    pthread_mutex_lock(&running_lock);
    halt_locked(b);
    pthread_mutex_unlock(&running_lock);
}

/* The batch the signal thread stops, or NULL once it is over. */
static void set_signal_batch(batch *b)
{
    pthread_mutex_lock(&running_lock);
    signal_batch = b;
    pthread_mutex_unlock(&running_lock);
}

static void *signal_main(void *arg)
{
    sigset_t *set = arg;
    int sig;

    while (sigwait(set, &sig) == 0) {
        if (atomic_exchange(&interrupted, 1)) {
            avf_progress_abandon();
            _exit(128 + SIGINT);
        }
        avf_log(AVF_LOG_WARN, "analyze", "interrupted: finishing the current segment");
        pthread_mutex_lock(&running_lock);
        if (signal_batch)
            halt_locked(signal_batch);
        pthread_mutex_unlock(&running_lock);
    }
    return NULL;
}

/* Registers the running pipeline of j (or none); returns whether it was stopped. */
static int set_running(batch *b, job *j, avf_sched *s)
{
    int stopped;

    pthread_mutex_lock(&running_lock);
    j->sched = s;
    if (s && atomic_load(&b->halt)) {
        avf_sched_stop(s);
        j->stopped = 1;
    }
    stopped = j->stopped;
    pthread_mutex_unlock(&running_lock);
    return stopped;
}

/* The shared output broke: said once, and nothing else is analyzed. */
static int output_failed_locked(batch *b, int err)
{
    char text[128];

    if (!b->out_error) {
        b->out_error = err ? err : EIO;
        avf_log(AVF_LOG_ERROR, "analyze", "cannot write %s: %s", b->out_name,
                avf_strerror(AVERROR(b->out_error), text, sizeof(text)));
        halt_all(b);
    }
    return -b->out_error;
}

/* Appends line and a newline to j's held lines. */
static int hold_line(job *j, const char *line, size_t len)
{
    if (j->held_len + len + 1 > j->held_size) {
        size_t size = j->held_size ? j->held_size : 16384;
        char *held;

        while (size < j->held_len + len + 1)
            size *= 2;
        held = realloc(j->held, size);
        if (!held)
            return -ENOMEM;
        j->held = held;
        j->held_size = size;
    }
    memcpy(j->held + j->held_len, line, len);
    j->held[j->held_len + len] = '\n';
    j->held_len += len + 1;
    return 0;
}

/*
 * Writes one line of j to the ordered output and frees it: straight through when
 * j is at the head of the order, else held. Returns 0 or a negative errno once the
 * output failed.
 */
static int ordered_write(batch *b, job *j, char *line)
{
    int ret = 0;

    pthread_mutex_lock(&b->out_lock);
    if (b->out_error)
        ret = -b->out_error;
    else if (!line)
        ret = output_failed_locked(b, ENOMEM);
    else if (j == &b->jobs[b->head]) {
        if (fputs(line, b->out) == EOF || fputc('\n', b->out) == EOF)
            ret = output_failed_locked(b, errno);
    } else if (hold_line(j, line, strlen(line)) < 0)
        ret = output_failed_locked(b, ENOMEM);
    pthread_mutex_unlock(&b->out_lock);
    free(line);
    return ret;
}

/* j has written its last line: moves the head past every finished input. */
static void ordered_finish(batch *b, job *j)
{
    int advanced = 0;

    pthread_mutex_lock(&b->out_lock);
    j->finished = 1;
    while (b->head < b->nb_jobs) {
        job *h = &b->jobs[b->head];

        if (h->held_len && !b->out_error && fwrite(h->held, 1, h->held_len, b->out) < h->held_len)
            output_failed_locked(b, errno);
        free(h->held);
        h->held = NULL;
        h->held_len = h->held_size = 0;
        if (!h->finished)
            break;
        b->head++;
        advanced = 1;
    }
    /* each input reaches a pipe whole, as soon as it is done */
    if (advanced && !b->out_error && fflush(b->out) == EOF)
        output_failed_locked(b, errno);
    pthread_mutex_unlock(&b->out_lock);
}

/* Writes one message line to a file and frees it; returns 0 or -errno. */
static int write_line(FILE *out, char *line)
{
    int ret = 0;

    if (!line)
        return -ENOMEM;
    if (fputs(line, out) == EOF || fputc('\n', out) == EOF)
        ret = errno ? -errno : -EIO;
    free(line);
    return ret;
}

/* Where the lines of j go: its own file with -o DIR, else the ordered output. */
static int emit(batch *b, job *j, FILE *f, char *line)
{
    return f ? write_line(f, line) : ordered_write(b, j, line);
}

/* Where analyze_line() writes an input's lines. */
typedef struct analyze_sink {
    batch *b;
    job *j;
    FILE *f; /* -o DIR: the input's .part, else NULL */
} analyze_sink;

/* avf_analyze_cb: emits the line, and moves the progress bar at each segment. */
static int analyze_line(void *opaque, char *line, const avf_segment *seg, uint64_t seq)
{
    analyze_sink *k = opaque;

    (void)seq;
    if (seg)
        atomic_store(&k->j->analyzed_us, seg->t1_us);
    return emit(k->b, k->j, k->f, line);
}

static void log_stats(const job *j, const avf_pipeline_stats *stats)
{
    avf_log(AVF_LOG_INFO, j->path,
            "%llu segments; video: %llu frames, %llu decode errors, %llu timestamps repaired, "
            "%llu missing, %llu wraps; audio: %llu frames, %llu decode errors, %llu gaps, "
            "%llu overlaps",
            (unsigned long long)j->segments, (unsigned long long)stats->video.frames,
            (unsigned long long)stats->video.decode_errors,
            (unsigned long long)stats->video.clock.repaired,
            (unsigned long long)stats->video.clock.missing,
            (unsigned long long)stats->video.clock.wraps, (unsigned long long)stats->audio.frames,
            (unsigned long long)stats->audio.decode_errors,
            (unsigned long long)stats->audio.audio_gaps,
            (unsigned long long)stats->audio.audio_overlaps);
    if (stats->segmenter.tail_dropped_us > 0)
        avf_log(AVF_LOG_INFO, j->path,
                "a %.3f s tail after the last segment is padding, not printed",
                stats->segmenter.tail_dropped_us / 1e6);
    if (stats->segmenter.late_items > 0)
        avf_log(AVF_LOG_INFO, j->path,
                "%llu frames or sample blocks came after their segment was out: left out",
                (unsigned long long)stats->segmenter.late_items);
}

/*
 * With -o DIR, the input's .part becomes its output, stays as what was analyzed,
 * or goes; says so on the one line that reports a failure (why, or NULL).
 */
static int finish_file(job *j, FILE *f, const char *why, int write_err, int stopped)
{
    char err[128];

    if (fclose(f) == EOF && !write_err)
        write_err = errno ? errno : EIO;
    if (write_err) {
        unlink(j->part_path);
        avf_log(AVF_LOG_ERROR, j->path, "cannot write %s: %s", j->part_path,
                avf_strerror(AVERROR(write_err), err, sizeof(err)));
        return AVERROR(write_err);
    }
    if (why || stopped) {
        if (j->segments == 0)
            unlink(j->part_path);
        if (why && j->segments == 0)
            avf_log(AVF_LOG_ERROR, j->path, "%s", why);
        else if (why)
            avf_log(AVF_LOG_ERROR, j->path, "%s; the %llu segments before are in %s", why,
                    (unsigned long long)j->segments, j->part_path);
        else if (j->segments > 0)
            avf_log(AVF_LOG_WARN, j->path, "interrupted: %llu segments in %s",
                    (unsigned long long)j->segments, j->part_path);
        return 0; /* the caller has the input's error */
    }
    if (rename(j->part_path, j->out_path) < 0) {
        int ret = AVERROR(errno);

        avf_log(AVF_LOG_ERROR, j->path, "cannot rename %s to %s: %s", j->part_path, j->out_path,
                avf_strerror(ret, err, sizeof(err)));
        unlink(j->part_path);
        return ret;
    }
    return 0;
}

/*
 * Analyzes one input and reports its failure in one line naming it. Returns 0
 * (also when stopped by a signal) or a negative error.
 */
static int analyze_one(batch *b, job *j)
{
    analyze_sink sink = {b, j, NULL};
    char err[256], why[1536], reason[1024] = "";
    avf_pipeline_config cfg = *b->cfg;
    const avf_source_info *info;
    avf_pipeline_stats stats;
    avf_sched *s = NULL;
    FILE *f = NULL;
    int ret, write_err = 0, stopped = 0, has_why = 0;

    cfg.why = reason; /* the words for a failure, where the pipeline has them */
    cfg.why_size = sizeof(reason);
    ret = avf_sched_open(&s, j->path, &cfg);
    if (ret < 0) {
        if (ret == AVF_EOS && atomic_load(&b->halt))
            return 0; /* stopped while opening: nothing was analyzed */
        avf_log(AVF_LOG_ERROR, j->path, "%s",
                reason[0]                    ? reason
                : ret == AVERROR_INVALIDDATA ? "not a media file FFmpeg can read"
                                             : avf_strerror(ret, err, sizeof(err)));
        return ret;
    }
    info = avf_sched_source_info(s);
    atomic_store(&j->duration_us, info && info->duration_us > 0 ? info->duration_us : -1);
    if (j->part_path) {
        f = fopen(j->part_path, "w");
        if (!f) {
            ret = AVERROR(errno);
            avf_log(AVF_LOG_ERROR, j->path, "cannot create %s: %s", j->part_path,
                    avf_strerror(ret, err, sizeof(err)));
            goto done;
        }
    }
    ret = avf_sched_start(s);
    if (ret < 0) {
        snprintf(why, sizeof(why), "cannot start: %s", avf_strerror(ret, err, sizeof(err)));
        has_why = 1;
        goto done;
    }
    set_running(b, j, s);
    sink.f = f;
    /* on a write error avf_sched_free() below abandons the rest of the input */
    write_err = avf_analyze_results(s, j->source, b->events, analyze_line, &sink, &j->segments);
    if (write_err) {
        ret = write_err;
        goto done;
    }
    ret = avf_sched_wait(s, &stats);
    if (ret < 0) {
        snprintf(why, sizeof(why), "analysis failed after %llu segments: %s",
                 (unsigned long long)j->segments, avf_strerror(ret, err, sizeof(err)));
        has_why = 1;
        goto done;
    }
    if (stats.read_error < 0) {
        ret = stats.read_error;
        snprintf(why, sizeof(why), "input broke off after %llu segments: %s",
                 (unsigned long long)j->segments,
                 reason[0] ? reason : avf_strerror(ret, err, sizeof(err)));
        has_why = 1;
        goto done;
    }
    log_stats(j, &stats);
done:
    stopped = set_running(b, j, NULL);
    avf_sched_free(&s);
    if (f) {
        int fret = finish_file(j, f, has_why ? why : NULL, write_err < 0 ? -write_err : 0, stopped);

        return ret < 0 ? ret : fret;
    }
    /* the ordered output's write errors are reported once, by ordered_write() */
    if (has_why)
        avf_log(AVF_LOG_ERROR, j->path, "%s", why);
    return ret;
}

static void *worker_main(void *arg)
{
    batch *b = arg;

    while (!atomic_load(&b->halt)) {
        int i = atomic_fetch_add(&b->next, 1);
        job *j;
        int ret;

        if (i >= b->nb_jobs)
            break;
        j = &b->jobs[i];
        atomic_store(&j->state, JOB_RUNNING);
        ret = analyze_one(b, j);
        atomic_store(&j->state, ret < 0 ? JOB_FAILED : JOB_DONE);
        if (b->out)
            ordered_finish(b, j);
    }
    return NULL;
}

/*
 * Names the output file of every input with -o DIR: NAME.jsonl, and for a NAME
 * already taken by an earlier input NAME-2.jsonl, NAME-3.jsonl, ... A hash table
 * keeps this linear however many inputs share a name; each NAME's entry remembers
 * the next suffix to try.
 */
static int name_outputs(batch *b, const char *dir)
{
    struct hsearch_data names = {0};
    size_t dir_len = strlen(dir);
    int ret = 0;

    while (dir_len > 1 && dir[dir_len - 1] == '/')
        dir_len--;
    if (!hcreate_r((size_t)b->nb_jobs * 2 + 16, &names))
        return -ENOMEM;
    for (int i = 0; i < b->nb_jobs && ret == 0; i++) {
        job *j = &b->jobs[i];
        ENTRY *base, *taken;
        size_t size;

        snprintf(j->file_name, sizeof(j->file_name), "%s", j->source);
        if (hsearch_r((ENTRY){j->file_name, NULL}, FIND, &base, &names)) {
            intptr_t k = (intptr_t)base->data;

            do
                snprintf(j->file_name, sizeof(j->file_name), "%s-%ld", j->source, (long)k++);
            while (hsearch_r((ENTRY){j->file_name, NULL}, FIND, &taken, &names));
            base->data = (void *)k;
        }
        if (!hsearch_r((ENTRY){j->file_name, (void *)(intptr_t)2}, ENTER, &taken, &names)) {
            ret = -ENOMEM;
            break;
        }
        size = dir_len + strlen(j->file_name) + sizeof("/.jsonl.part");
        j->out_path = malloc(size);
        j->part_path = malloc(size);
        if (!j->out_path || !j->part_path) {
            ret = -ENOMEM;
            break;
        }
        snprintf(j->out_path, size, "%.*s/%s.jsonl", (int)dir_len, dir, j->file_name);
        snprintf(j->part_path, size, "%s.part", j->out_path);
    }
    hdestroy_r(&names);
    return ret;
}

/* mkdir -p: creates dir and its missing parents. */
static int make_dirs(const char *dir)
{
    char *path = strdup(dir);
    struct stat st;
    int ret = 0;

    if (!path)
        return -ENOMEM;
    for (char *p = path + 1; ret == 0; p++) {
        char c = *p;

        if (c != '/' && c != '\0')
            continue;
        *p = '\0';
        if (mkdir(path, 0777) < 0 && errno != EEXIST)
            ret = -errno;
        *p = c;
        if (!c)
            break;
    }
    if (ret == 0 && (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode)))
        ret = -ENOTDIR;
    free(path);
    return ret;
}

/* ------------------------------------------------------------------------- */
/* The progress bar's numbers (tools/progress.c draws it)                    */
/* ------------------------------------------------------------------------- */

/*
 * Percent: each input weighs its duration, found when a worker opens it or, ahead
 * of the workers, by a probe thread that opens local files only for that; an
 * input whose duration is not known (yet) weighs the mean known duration and
 * counts only once done.
 */
static void batch_progress(void *opaque, avf_progress_counts *c)
{
    const batch *b = opaque;
    double total = 0, done = 0, known_s = 0;
    int nb_known = 0;

    for (int i = 0; i < b->nb_jobs; i++) {
        int64_t d = atomic_load(&b->jobs[i].duration_us);

        if (d > 0) {
            known_s += d / 1e6;
            nb_known++;
        }
    }
    for (int i = 0; i < b->nb_jobs; i++) {
        const job *j = &b->jobs[i];
        int state = atomic_load(&j->state);
        double d = atomic_load(&j->duration_us) / 1e6;
        double a = atomic_load(&j->analyzed_us) / 1e6;
        double weight = d > 0 ? d : nb_known ? known_s / nb_known : 1.0;

        c->media_s += a > 0 ? a : 0;
        total += weight;
        if (state == JOB_DONE || state == JOB_FAILED) {
            done += weight;
            c->finished++;
            c->failed += state == JOB_FAILED;
        } else if (d > 0 && a > 0) {
            done += a < d ? a : d;
        }
    }
    c->done = total > 0 ? done / total : 0;
    c->total = b->nb_jobs;
}

/*
 * Finds the durations of local files before their workers reach them, in input
 * order, so that the percent means media time from the start. Until b->halt.
 */
static void *probe_main(void *arg)
{
    batch *b = arg;
    avf_source_options opt = {
        .io_timeout_us = b->cfg->io_timeout_us,
        .kind = b->cfg->kind,
        .format = b->cfg->format,
        .stop = &b->halt,
    };

    for (int i = 0; i < b->nb_jobs && !atomic_load(&b->halt); i++) {
        job *j = &b->jobs[i];
        avf_source *src = NULL;
        struct stat st;
        int64_t d, unknown = 0;

        if (atomic_load(&j->state) != JOB_WAITING || !avf_url_is_local(j->path) ||
            stat(j->path, &st) < 0 || !S_ISREG(st.st_mode))
            continue;
        if (avf_source_open(&src, j->path, &opt) < 0)
            continue;
        d = avf_source_get_info(src)->duration_us;
        atomic_compare_exchange_strong(&j->duration_us, &unknown, d > 0 ? d : -1);
        avf_source_free(&src);
    }
    return NULL;
}

/* ------------------------------------------------------------------------- */
/* The command                                                               */
/* ------------------------------------------------------------------------- */

/* analyze's own long options (the shared ones are tools/options.h's). */
enum {
    OPT_SOURCE = 256,
    OPT_NO_FEATURES,
    OPT_EVENTS,
    OPT_PROGRESS,
    OPT_NO_PROGRESS,
};

/*
 * Half the processors, at most 4: one pipeline already keeps about two busy (its
 * decoders are threaded), and each holds its decoders' frames in memory.
 */
static int default_jobs(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN) / 2;

    return n < 1 ? 1 : n > 4 ? 4 : (int)n;
}

/* -o names a folder when it ends in '/' or is one already. */
static int is_dir_output(const char *output)
{
    struct stat st;
    size_t len = strlen(output);

    return (len > 0 && output[len - 1] == '/') || (stat(output, &st) == 0 && S_ISDIR(st.st_mode));
}

/* analyze's command line. */
typedef struct analyze_args {
    avf_tool_options opt; /* the pipeline, the extractors, the model, -v, -q */
    const char *output, *source;
    int features, events, jobs;
    int show_progress; /* -1: when stderr is a terminal and not -q */
} analyze_args;

/* Takes analyze's own options: 0, or a negative error after a message. */
static int analyze_option(void *ctx, int opt, const char *arg)
{
    analyze_args *a = ctx;
    char *end;

    switch (opt) {
    case OPT_SOURCE:
        a->source = arg;
        break;
    case OPT_NO_FEATURES:
        a->features = 0;
        break;
    case OPT_EVENTS:
        a->events = 1;
        break;
    case OPT_PROGRESS:
    case OPT_NO_PROGRESS:
        a->show_progress = opt == OPT_PROGRESS;
        break;
    case 'j':
        errno = 0;
        a->jobs = (int)strtol(arg, &end, 10);
        if (errno || end == arg || *end || a->jobs < 1 || a->jobs > JOBS_MAX) {
            fprintf(stderr, "avfuse: -j: a number of inputs from 1 to %d, not '%s'\n", JOBS_MAX,
                    arg);
            return -EINVAL;
        }
        break;
    case 'o':
        a->output = arg;
        break;
    default:
        analyze_usage(stderr);
        return -EINVAL;
    }
    return 0;
}

/*
 * Parses analyze's command line into a and checks it. Returns 1 to run, or 0 with
 * *status the exit status (--help, a usage error).
 */
static int parse_analyze_args(analyze_args *a, int argc, char **argv, int *status)
{
    static const struct option options[] = {
        AVF_OPTION_HOP,
        AVF_OPTION_LEN,
        AVF_OPTION_FPS,
        AVF_OPTION_WIDTH,
        AVF_OPTION_MIN_PARTIAL,
        AVF_OPTION_TIMEOUT,
        {"source", required_argument, NULL, OPT_SOURCE},
        AVF_OPTION_PLUGIN_DIR,
        {"no-features", no_argument, NULL, OPT_NO_FEATURES},
        AVF_OPTION_MODEL,
        {"events", no_argument, NULL, OPT_EVENTS},
        {"progress", no_argument, NULL, OPT_PROGRESS},
        {"no-progress", no_argument, NULL, OPT_NO_PROGRESS},
        {"jobs", required_argument, NULL, 'j'},
        {"output", required_argument, NULL, 'o'},
        AVF_OPTION_VERBOSE,
        AVF_OPTION_QUIET,
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    char why[128];

    if (!avf_tool_getopt(argc, argv, "j:o:vqh", options, &a->opt, analyze_option, a, analyze_usage,
                         status))
        return 0;
    if (optind >= argc) {
        fprintf(stderr, "avfuse: analyze: no input file\n");
        analyze_usage(stderr);
        return 0;
    }
    if (avf_pipeline_config_check(&a->opt.cfg, why, sizeof(why)) < 0) {
        fprintf(stderr, "avfuse: analyze: %s\n", why);
        return 0;
    }
    if (a->source && !avf_source_name_valid(a->source)) {
        fprintf(stderr, "avfuse: --source: '%s' does not match [A-Za-z0-9_-]{1,64}\n", a->source);
        return 0;
    }
    if (a->source && argc - optind > 1) {
        fprintf(stderr, "avfuse: --source names one input, but %d were given\n", argc - optind);
        return 0;
    }
    return 1;
}

/* One job per input, named by --source or the file name; with -o DIR, their files. */
static int batch_init(batch *b, char **inputs, int nb_inputs, const analyze_args *a)
{
    char why[128];
    int ret;

    b->nb_jobs = nb_inputs;
    b->jobs = calloc((size_t)b->nb_jobs, sizeof(*b->jobs));
    if (!b->jobs)
        return AVERROR(ENOMEM);
    for (int i = 0; i < b->nb_jobs; i++) {
        b->jobs[i].path = inputs[i];
        if (a->source)
            snprintf(b->jobs[i].source, sizeof(b->jobs[i].source), "%s", a->source);
        else
            avf_source_name_from_path(b->jobs[i].path, b->jobs[i].source);
    }
    b->events = a->events;
    if (!a->output || !is_dir_output(a->output))
        return 0;
    ret = make_dirs(a->output);
    if (ret < 0) {
        avf_log(AVF_LOG_ERROR, "analyze", "cannot create the folder %s: %s", a->output,
                avf_strerror(ret, why, sizeof(why)));
        return ret;
    }
    b->out_dir = 1;
    return name_outputs(b, a->output);
}

static void batch_free(batch *b)
{
    if (b->out_lock_ready)
        pthread_mutex_destroy(&b->out_lock);
    for (int i = 0; b->jobs && i < b->nb_jobs; i++) {
        free(b->jobs[i].out_path);
        free(b->jobs[i].part_path);
        free(b->jobs[i].held);
    }
    free(b->jobs);
}

/* The ordered output, unless -o DIR: -o FILE or stdout. */
static int open_output(batch *b, const char *output)
{
    char why[128];

    if (b->out_dir)
        return 0;
    b->out = output ? fopen(output, "w") : stdout;
    b->out_name = output ? output : "output";
    if (!b->out) {
        int ret = AVERROR(errno);

        avf_log(AVF_LOG_ERROR, "analyze", "cannot create %s: %s", output,
                avf_strerror(ret, why, sizeof(why)));
        return ret;
    }
    return 0;
}

/*
 * Runs the workers (and with the bar, the probe) until every input is done or the
 * batch halts; then lets the skipped inputs through the ordered output. Returns
 * whether any input failed.
 */
static int run_workers(batch *b, int jobs, int probe)
{
    pthread_t probe_thread, workers[JOBS_MAX];
    int started = 0, probing = 0, failed = 0;

    if (probe && b->nb_jobs > 1 && pthread_create(&probe_thread, NULL, probe_main, b) == 0)
        probing = 1;
    if (jobs > b->nb_jobs)
        jobs = b->nb_jobs;
    for (; started < jobs; started++)
        if (pthread_create(&workers[started], NULL, worker_main, b) != 0)
            break;
    if (started == 0)
        worker_main(b);
    for (int i = 0; i < started; i++)
        pthread_join(workers[i], NULL);
    atomic_store(&b->halt, 1); /* ends the probe: no pipeline is left to stop */
    if (probing)
        pthread_join(probe_thread, NULL);
    for (int i = 0; i < b->nb_jobs; i++) {
        int state = atomic_load(&b->jobs[i].state);

        failed |= state == JOB_FAILED;
        if (b->out && state == JOB_WAITING) /* skipped: the inputs after it still go out */
            ordered_finish(b, &b->jobs[i]);
    }
    return failed;
}

/* Flushes and closes the ordered output; returns whether it failed. */
static int close_output(batch *b)
{
    if (b->out && !b->out_error && fflush(b->out) == EOF)
        output_failed_locked(b, errno); /* the workers are gone: the lock is free */
    if (b->out && b->out != stdout && fclose(b->out) == EOF && !b->out_error)
        output_failed_locked(b, errno);
    return b->out_error != 0;
}

/*
 * Analyzes the batch: signals to the signal thread, the bar, the output, the
 * workers. Returns the exit status.
 */
static int run_batch(batch *b, const analyze_args *a)
{
    static sigset_t signals; /* the signal thread's, which outlives this call */
    pthread_t signal_thread;
    int bar = 0, failed, show_progress = a->show_progress;

    if (pthread_mutex_init(&b->out_lock, NULL) != 0)
        return EXIT_INPUT_FAILED;
    b->out_lock_ready = 1;
    if (show_progress < 0)
        show_progress = a->opt.log_level > AVF_LOG_ERROR && isatty(STDERR_FILENO);
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    /* blocked before any other thread exists, so all of them inherit it */
    pthread_sigmask(SIG_BLOCK, &signals, NULL);
    /* before the output, which may be the stdout the bar wraps */
    if (show_progress && avf_progress_start(batch_progress, b) == 0)
        bar = 1;
    if (open_output(b, a->output) < 0) {
        if (bar)
            avf_progress_stop();
        return EXIT_INPUT_FAILED;
    }
    set_signal_batch(b);
    if (pthread_create(&signal_thread, NULL, signal_main, &signals) == 0)
        pthread_detach(signal_thread);
    failed = run_workers(b, a->jobs, bar);
    if (bar)
        avf_progress_stop();
    failed |= close_output(b);
    set_signal_batch(NULL);
    return atomic_load(&interrupted) ? 128 + SIGINT : failed ? EXIT_INPUT_FAILED : 0;
}

static int cmd_analyze(int argc, char **argv)
{
    analyze_args a = {.features = 1, .jobs = default_jobs(), .show_progress = -1};
    avf_setup setup = {0};
    batch b = {0};
    int status;

    avf_tool_options_init(&a.opt);
    if (!parse_analyze_args(&a, argc, argv, &status))
        goto done;
    status = EXIT_INPUT_FAILED;
    if (batch_init(&b, argv + optind, argc - optind, &a) < 0)
        goto done;
    if (a.features) {
        avf_setup_options so = avf_tool_setup_options(&a.opt, AVF_MODEL_OPTIONAL, "analyze",
                                                      "segments carry no labels or sentiment");

        if (avf_setup_load(&setup, &so) < 0)
            goto done;
        avf_setup_apply(&setup, &a.opt.cfg);
    }
    a.opt.cfg.stop = &b.halt;
    b.cfg = &a.opt.cfg;
    status = run_batch(&b, &a);
done:
    batch_free(&b);
    avf_setup_free(&setup);
    avf_tool_options_free(&a.opt);
    return status;
}

int main(int argc, char **argv)
{
    avf_log_init("avfuse");
    if (argc < 2) {
        main_usage(stderr);
        return EXIT_USAGE;
    }
    if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
        main_usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "analyze"))
        return cmd_analyze(argc - 1, argv + 1);
    if (!strcmp(argv[1], "train"))
        return avf_cmd_train(argc - 1, argv + 1);
    if (!strcmp(argv[1], "eval"))
        return avf_cmd_eval(argc - 1, argv + 1);
    if (!strcmp(argv[1], "watch"))
        return avf_cmd_watch(argc - 1, argv + 1);
    if (!strcmp(argv[1], "proxy"))
        return avf_cmd_proxy(argc - 1, argv + 1);
    if (!strcmp(argv[1], "ctl"))
        return avf_cmd_ctl(argc - 1, argv + 1);
    if (!strcmp(argv[1], "keygen"))
        return avf_cmd_keygen(argc - 1, argv + 1);
    if (!strcmp(argv[1], "report"))
        return avf_cmd_report(argc - 1, argv + 1);
    fprintf(stderr, "avfuse: unknown command '%s'\n", argv[1]);
    main_usage(stderr);
    return EXIT_USAGE;
}
