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
 * and the progress bar, which owns the terminal line while it is up: stderr (and
 * stdout when it is that terminal) are replaced by stdio streams of our own, so
 * every line from any thread, the log's and FFmpeg's included, wipes the bar,
 * is written whole and has the bar redrawn under it. Later subcommands (watch,
 * ctl, train, eval) join the table in main().
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
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <libavutil/avutil.h>
#include <libavutil/rational.h>

#include "tools/commands.h"
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

int avf_parse_seconds(const char *opt, const char *arg, double *out)
{
    char *end;
    double v;

    errno = 0;
    v = strtod(arg, &end);
    if (errno || end == arg || *end || !isfinite(v) || v < 0) {
        fprintf(stderr, "avfuse: %s: not a non-negative number: '%s'\n", opt, arg);
        return -1;
    }
    *out = v;
    return 0;
}

static int64_t now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
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
} batch;

/*
 * SIGINT and SIGTERM end analyze cleanly: the inputs being read stop, what was
 * already decoded is still published (the last segment partial), later inputs
 * are skipped, and the exit status is 130. The signals are blocked in every
 * thread and taken by one thread with sigwait(), so no handler runs inside the
 * pipelines (STYLE.md rule 16); a second signal exits at once. The batch's halt
 * flag is also the pipelines' stop flag, so an input still opening stops too.
 */
static pthread_mutex_t running_lock = PTHREAD_MUTEX_INITIALIZER;
static atomic_int interrupted; /* atomic */
static batch *signal_batch;    /* protected by running_lock: the batch while it runs */

static void progress_abandon(void);

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
            progress_abandon();
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
/* The progress bar                                                          */
/* ------------------------------------------------------------------------- */

/*
 * The bar is one line on stderr, redrawn by its own thread at most 10 times a
 * second with '\r' and spaces (no escape sequences, so any terminal will do).
 * stderr and, when it is a terminal, stdout are replaced by line-buffered
 * fopencookie() streams whose writes take the bar's lock, wipe the bar, write
 * the line and redraw the bar under it: error lines from any thread never share
 * the bar's line, and the log module needs no hook. The streams stay in place
 * until exit; once the bar is gone they only write.
 *
 * Percent: each input weighs its duration, found when a worker opens it or, ahead
 * of the workers, by a probe thread that opens local files only for that; an
 * input whose duration is not known (yet) weighs the mean known duration and
 * counts only once done. Speed: media seconds analyzed per wall second over the
 * whole run; ETA: the time so far times what is left over what is done.
 */
typedef struct progress_stream {
    int fd;
    int mid_line; /* protected by progress.lock: the last write did not end a line */
} progress_stream;

static struct {
    pthread_mutex_t lock;
    pthread_cond_t wake; /* progress_stop() to the thread */
    pthread_t thread;
    int up;    /* protected by lock: the bar is drawn */
    int quit;  /* protected by lock */
    int shown; /* protected by lock: columns the bar covers on the terminal now */
    char text[512];
    int text_cols;
    progress_stream err, out; /* protected by lock */
    const char *times;        /* set before the thread starts: "×" or "x" */
    const batch *b;           /* set before the thread starts */
    int64_t start_us;         /* set before the thread starts */
} progress = {
    .lock = PTHREAD_MUTEX_INITIALIZER,
    .err = {STDERR_FILENO, 0},
    .out = {STDOUT_FILENO, 0},
};

static int write_all(int fd, const char *buf, size_t size)
{
    while (size > 0) {
        ssize_t n = write(fd, buf, size);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        buf += n;
        size -= (size_t)n;
    }
    return 0;
}

static void bar_wipe_locked(void)
{
    char blank[600];
    int n = progress.shown < (int)sizeof(blank) - 2 ? progress.shown : (int)sizeof(blank) - 2;

    if (!progress.shown)
        return;
    blank[0] = '\r';
    memset(blank + 1, ' ', (size_t)n);
    blank[n + 1] = '\r';
    write_all(STDERR_FILENO, blank, (size_t)n + 2);
    progress.shown = 0;
}

static void bar_draw_locked(void)
{
    char line[sizeof(progress.text) + 80];
    int len, pad;

    if (!progress.up || progress.err.mid_line || progress.out.mid_line || !progress.text[0])
        return;
    len = snprintf(line, sizeof(line), "\r%s", progress.text);
    pad = progress.shown - progress.text_cols; /* what the last bar drew beyond this one */
    while (pad-- > 0 && len < (int)sizeof(line) - 1)
        line[len++] = ' ';
    write_all(STDERR_FILENO, line, (size_t)len);
    progress.shown = progress.text_cols;
}

static ssize_t progress_stream_write(void *cookie, const char *buf, size_t size)
{
    progress_stream *ps = cookie;
    int ret;

    pthread_mutex_lock(&progress.lock);
    bar_wipe_locked();
    ret = write_all(ps->fd, buf, size);
    ps->mid_line = size > 0 && buf[size - 1] != '\n';
    bar_draw_locked();
    pthread_mutex_unlock(&progress.lock);
    if (ret < 0) {
        errno = -ret;
        return -1;
    }
    return (ssize_t)size;
}

/* Replaces *stream (stderr or stdout) by a stream through progress_stream_write(). */
static void progress_wrap(FILE **stream, progress_stream *ps)
{
    FILE *f = fopencookie(ps, "w", (cookie_io_functions_t){.write = progress_stream_write});

    if (!f)
        return; /* the bar may then share its line with a message; nothing worse */
    setvbuf(f, NULL, _IOLBF, 4096);
    fflush(*stream);
    *stream = f;
}

static void format_hms(char *buf, size_t size, double s)
{
    long t = lround(s);

    if (t >= 3600)
        snprintf(buf, size, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
    else
        snprintf(buf, size, "%ld:%02ld", t / 60, t % 60);
}

/* Columns a UTF-8 string takes (one per character). */
static int text_columns(const char *s)
{
    int n = 0;

    for (; *s; s++)
        n += ((unsigned char)*s & 0xc0) != 0x80;
    return n;
}

static void progress_compose_locked(void)
{
    const batch *b = progress.b;
    double total = 0, done = 0, media_s = 0, known_s = 0, elapsed, frac;
    int nb_known = 0, finished = 0, failed = 0, cols = 80, bar;
    char speed[32] = "--", eta[32] = "--:--", tail[160], failures[32] = "";
    struct winsize ws;

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

        media_s += a > 0 ? a : 0;
        total += weight;
        if (state == JOB_DONE || state == JOB_FAILED) {
            done += weight;
            finished++;
            failed += state == JOB_FAILED;
        } else if (d > 0 && a > 0) {
            done += a < d ? a : d;
        }
    }
    frac = total > 0 ? done / total : 0;
    frac = frac < 0 ? 0 : frac > 1 ? 1 : frac;
    elapsed = (now_us() - progress.start_us) / 1e6;
    if (media_s > 0 && elapsed > 0.2)
        snprintf(speed, sizeof(speed), "%.1f", media_s / elapsed);
    if (frac > 0.001 && elapsed > 0.2)
        format_hms(eta, sizeof(eta), elapsed * (1 - frac) / frac);
    if (failed)
        snprintf(failures, sizeof(failures), " (%d failed)", failed);
    snprintf(tail, sizeof(tail), " %d/%d files%s  %s%s real time  ETA %s", finished, b->nb_jobs,
             failures, speed, progress.times, eta);
    if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
        cols = ws.ws_col;
    /* "100% [" + bar + "]" + tail, one column short of the edge so it never wraps */
    bar = cols - 1 - 7 - text_columns(tail);
    if (bar > 40)
        bar = 40;
    if (bar >= 10) {
        int fill = (int)(frac * bar);
        char cells[48];

        memset(cells, '#', (size_t)fill);
        memset(cells + fill, ' ', (size_t)(bar - fill));
        cells[bar] = '\0';
        snprintf(progress.text, sizeof(progress.text), "%3d%% [%s]%s", (int)(frac * 100), cells,
                 tail);
    } else {
        snprintf(progress.text, sizeof(progress.text), "%3d%%%s", (int)(frac * 100), tail);
    }
    progress.text_cols = text_columns(progress.text);
    if (progress.text_cols > cols - 1) { /* a very narrow terminal: cut the line */
        int keep = 0, n = 0;

        for (const char *p = progress.text; *p; p++) {
            if (((unsigned char)*p & 0xc0) != 0x80 && ++n > cols - 1)
                break;
            keep++;
        }
        progress.text[keep] = '\0';
        progress.text_cols = text_columns(progress.text);
    }
}

static void *progress_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&progress.lock);
    while (!progress.quit) {
        struct timespec until;

        progress_compose_locked();
        bar_draw_locked();
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_nsec += 100 * 1000000;
        if (until.tv_nsec >= 1000000000) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000;
        }
        while (!progress.quit &&
               pthread_cond_timedwait(&progress.wake, &progress.lock, &until) != ETIMEDOUT)
            ;
    }
    bar_wipe_locked();
    progress.up = 0;
    pthread_mutex_unlock(&progress.lock);
    return NULL;
}

/* "×" where the locale's characters are UTF-8 (the way setlocale() would see it). */
static const char *times_sign(void)
{
    const char *names[] = {"LC_ALL", "LC_CTYPE", "LANG"};

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        const char *v = getenv(names[i]);

        if (v && *v)
            return strcasestr(v, "utf-8") || strcasestr(v, "utf8") ? "\xc3\x97" : "x";
    }
    return "x";
}

/* Puts the bar up; wraps stderr (and stdout, when it is a terminal) first. */
static int progress_start(const batch *b)
{
    pthread_condattr_t attr;

    progress.b = b;
    progress.times = times_sign();
    progress.start_us = now_us();
    if (pthread_condattr_init(&attr) != 0)
        return -ENOMEM;
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    if (pthread_cond_init(&progress.wake, &attr) != 0) {
        pthread_condattr_destroy(&attr);
        return -ENOMEM;
    }
    pthread_condattr_destroy(&attr);
    progress_wrap(&stderr, &progress.err);
    if (isatty(STDOUT_FILENO))
        progress_wrap(&stdout, &progress.out);
    progress.up = 1;
    if (pthread_create(&progress.thread, NULL, progress_main, NULL) != 0) {
        progress.up = 0;
        pthread_cond_destroy(&progress.wake);
        return -EAGAIN;
    }
    return 0;
}

/* Takes the bar down, wiped from the terminal. */
static void progress_stop(void)
{
    pthread_mutex_lock(&progress.lock);
    progress.quit = 1;
    pthread_cond_signal(&progress.wake);
    pthread_mutex_unlock(&progress.lock);
    pthread_join(progress.thread, NULL);
    pthread_cond_destroy(&progress.wake);
}

/* Wipes the bar before an immediate exit, unless a writer holds it. */
static void progress_abandon(void)
{
    if (pthread_mutex_trylock(&progress.lock) == 0) {
        bar_wipe_locked();
        pthread_mutex_unlock(&progress.lock);
    }
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

static int cmd_analyze(int argc, char **argv)
{
    enum {
        OPT_HOP = 256,
        OPT_LEN,
        OPT_FPS,
        OPT_WIDTH,
        OPT_MIN_PARTIAL,
        OPT_TIMEOUT,
        OPT_SOURCE,
        OPT_PLUGIN_DIR,
        OPT_NO_FEATURES,
        OPT_MODEL,
        OPT_EVENTS,
        OPT_PROGRESS,
        OPT_NO_PROGRESS,
    };
    static const struct option options[] = {
        {"hop", required_argument, NULL, OPT_HOP},
        {"len", required_argument, NULL, OPT_LEN},
        {"fps", required_argument, NULL, OPT_FPS},
        {"width", required_argument, NULL, OPT_WIDTH},
        {"min-partial", required_argument, NULL, OPT_MIN_PARTIAL},
        {"timeout", required_argument, NULL, OPT_TIMEOUT},
        {"source", required_argument, NULL, OPT_SOURCE},
        {"plugin-dir", required_argument, NULL, OPT_PLUGIN_DIR},
        {"no-features", no_argument, NULL, OPT_NO_FEATURES},
        {"model", required_argument, NULL, OPT_MODEL},
        {"events", no_argument, NULL, OPT_EVENTS},
        {"progress", no_argument, NULL, OPT_PROGRESS},
        {"no-progress", no_argument, NULL, OPT_NO_PROGRESS},
        {"jobs", required_argument, NULL, 'j'},
        {"output", required_argument, NULL, 'o'},
        {"verbose", no_argument, NULL, 'v'},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    avf_pipeline_config cfg;
    const char *output = NULL, *source = NULL;
    const char **plugin_dirs = NULL;
    int nb_plugin_dirs = 0, features = 1;
    const avf_plugin_descriptor **plugins = NULL;
    avf_plugin_registry *registry = NULL;
    avf_fused_layout *layout = NULL, *model_layout = NULL;
    avf_model *model = NULL;
    const char *model_path = NULL;
    int events = 0, jobs = default_jobs(), show_progress = -1, out_dir = 0;
    static sigset_t signals; /* the signal thread's, which outlives this call */
    pthread_t signal_thread, probe_thread, workers[JOBS_MAX];
    int level = AVF_LOG_WARN, failed = 0, status = EXIT_USAGE, opt, started = 0, probing = 0;
    int bar = 0, out_lock_ready = 0;
    double v;
    char why[128], *end;
    batch b = {0};

    avf_pipeline_config_default(&cfg);
    while ((opt = getopt_long(argc, argv, "j:o:vqh", options, NULL)) != -1) {
        switch (opt) {
        case OPT_HOP:
            if (avf_parse_seconds("--hop", optarg, &cfg.hop_s) < 0)
                goto done;
            break;
        case OPT_LEN:
            if (avf_parse_seconds("--len", optarg, &cfg.len_s) < 0)
                goto done;
            break;
        case OPT_FPS:
            if (avf_parse_seconds("--fps", optarg, &v) < 0)
                goto done;
            cfg.fps = v > 0 ? av_d2q(v, 1001000) : (AVRational){0, 1};
            break;
        case OPT_WIDTH:
            if (avf_parse_seconds("--width", optarg, &v) < 0)
                goto done;
            cfg.max_width = v > INT32_MAX ? INT32_MAX : (int)v;
            break;
        case OPT_MIN_PARTIAL:
            if (avf_parse_seconds("--min-partial", optarg, &cfg.min_partial_s) < 0)
                goto done;
            break;
        case OPT_TIMEOUT:
            if (avf_parse_seconds("--timeout", optarg, &v) < 0)
                goto done;
            if (v <= 0 || v > 86400) {
                fprintf(stderr, "avfuse: --timeout must be above 0 and at most 86400\n");
                goto done;
            }
            cfg.io_timeout_us = llround(v * AV_TIME_BASE);
            break;
        case OPT_SOURCE:
            source = optarg;
            break;
        case OPT_PLUGIN_DIR: {
            const char **dirs = realloc(plugin_dirs, (size_t)(nb_plugin_dirs + 1) * sizeof(*dirs));

            if (!dirs) {
                status = EXIT_INPUT_FAILED;
                goto done;
            }
            plugin_dirs = dirs;
            plugin_dirs[nb_plugin_dirs++] = optarg;
            break;
        }
        case OPT_NO_FEATURES:
            features = 0;
            break;
        case OPT_MODEL:
            model_path = optarg;
            break;
        case OPT_EVENTS:
            events = 1;
            break;
        case OPT_PROGRESS:
            show_progress = 1;
            break;
        case OPT_NO_PROGRESS:
            show_progress = 0;
            break;
        case 'j':
            errno = 0;
            jobs = (int)strtol(optarg, &end, 10);
            if (errno || end == optarg || *end || jobs < 1 || jobs > JOBS_MAX) {
                fprintf(stderr, "avfuse: -j: a number of inputs from 1 to %d, not '%s'\n", JOBS_MAX,
                        optarg);
                goto done;
            }
            break;
        case 'o':
            output = optarg;
            break;
        case 'v':
            level++;
            break;
        case 'q':
            level = AVF_LOG_ERROR;
            break;
        case 'h':
            analyze_usage(stdout);
            status = 0;
            goto done;
        default:
            analyze_usage(stderr);
            goto done;
        }
    }
    avf_log_set_level(level);
    if (optind >= argc) {
        fprintf(stderr, "avfuse: analyze: no input file\n");
        analyze_usage(stderr);
        goto done;
    }
    if (avf_pipeline_config_check(&cfg, why, sizeof(why)) < 0) {
        fprintf(stderr, "avfuse: analyze: %s\n", why);
        goto done;
    }
    if (source && !avf_source_name_valid(source)) {
        fprintf(stderr, "avfuse: --source: '%s' does not match [A-Za-z0-9_-]{1,64}\n", source);
        goto done;
    }
    if (source && argc - optind > 1) {
        fprintf(stderr, "avfuse: --source names one input, but %d were given\n", argc - optind);
        goto done;
    }
    status = EXIT_INPUT_FAILED;
    b.nb_jobs = argc - optind;
    b.jobs = calloc((size_t)b.nb_jobs, sizeof(*b.jobs));
    if (!b.jobs)
        goto done;
    for (int i = 0; i < b.nb_jobs; i++) {
        b.jobs[i].path = argv[optind + i];
        if (source)
            snprintf(b.jobs[i].source, sizeof(b.jobs[i].source), "%s", source);
        else
            avf_source_name_from_path(b.jobs[i].path, b.jobs[i].source);
    }
    if (output && is_dir_output(output)) {
        int ret = make_dirs(output);

        out_dir = 1;
        if (ret < 0) {
            avf_log(AVF_LOG_ERROR, "analyze", "cannot create the folder %s: %s", output,
                    avf_strerror(ret, why, sizeof(why)));
            goto done;
        }
        if (name_outputs(&b, output) < 0)
            goto done;
    }
    if (features) {
        int ret = avf_load_plugins(&registry, plugin_dirs, nb_plugin_dirs, &plugins);

        if (ret < 0)
            goto done;
        cfg.plugins = plugins;
        cfg.nb_plugins = ret;
        layout = avf_fused_layout_new(plugins, ret);
        if (!layout)
            goto done;
        ret = avf_load_model(&model, &model_layout, model_path, layout);
        if (ret < 0)
            goto done;
        if (ret > 0)
            avf_log(AVF_LOG_WARN, "analyze",
                    "no model found: segments carry no labels or sentiment");
        cfg.fused = model_layout;
        cfg.model = model;
    }
    cfg.stop = &b.halt;
    b.cfg = &cfg;
    b.events = events;
    if (pthread_mutex_init(&b.out_lock, NULL) != 0)
        goto done;
    out_lock_ready = 1;
    if (show_progress < 0)
        show_progress = level > AVF_LOG_ERROR && isatty(STDERR_FILENO);
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    /* blocked before any other thread exists, so all of them inherit it */
    pthread_sigmask(SIG_BLOCK, &signals, NULL);
    /* before the output, which may be the stdout the bar wraps */
    if (show_progress && progress_start(&b) == 0)
        bar = 1;
    if (!out_dir) {
        b.out = output ? fopen(output, "w") : stdout;
        b.out_name = output ? output : "output";
        if (!b.out) {
            avf_log(AVF_LOG_ERROR, "analyze", "cannot create %s: %s", output,
                    avf_strerror(AVERROR(errno), why, sizeof(why)));
            goto done;
        }
    }
    set_signal_batch(&b);
    if (pthread_create(&signal_thread, NULL, signal_main, &signals) == 0)
        pthread_detach(signal_thread);
    if (bar && b.nb_jobs > 1 && pthread_create(&probe_thread, NULL, probe_main, &b) == 0)
        probing = 1;
    if (jobs > b.nb_jobs)
        jobs = b.nb_jobs;
    for (; started < jobs; started++)
        if (pthread_create(&workers[started], NULL, worker_main, &b) != 0)
            break;
    if (started == 0)
        worker_main(&b);
    for (int i = 0; i < started; i++)
        pthread_join(workers[i], NULL);
    atomic_store(&b.halt, 1); /* ends the probe: no pipeline is left to stop */
    if (probing)
        pthread_join(probe_thread, NULL);
    for (int i = 0; i < b.nb_jobs; i++) {
        int state = atomic_load(&b.jobs[i].state);

        failed |= state == JOB_FAILED;
        if (b.out && state == JOB_WAITING) /* skipped: the inputs after it still go out */
            ordered_finish(&b, &b.jobs[i]);
    }
    if (bar) {
        progress_stop();
        bar = 0;
    }
    if (b.out && !b.out_error && fflush(b.out) == EOF)
        output_failed_locked(&b, errno); /* the workers are gone: the lock is free */
    if (b.out && b.out != stdout && fclose(b.out) == EOF && !b.out_error)
        output_failed_locked(&b, errno);
    failed |= b.out_error != 0;
    status = atomic_load(&interrupted) ? 128 + SIGINT : failed ? EXIT_INPUT_FAILED : 0;
done:
    set_signal_batch(NULL);
    if (bar)
        progress_stop();
    if (out_lock_ready)
        pthread_mutex_destroy(&b.out_lock);
    for (int i = 0; b.jobs && i < b.nb_jobs; i++) {
        free(b.jobs[i].out_path);
        free(b.jobs[i].part_path);
        free(b.jobs[i].held);
    }
    free(b.jobs);
    avf_model_free(&model);
    avf_fused_layout_free(&model_layout);
    avf_fused_layout_free(&layout);
    free(plugins);
    avf_plugin_registry_free(&registry);
    free(plugin_dirs);
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
