/*
 * train.c - `avfuse train` and `avfuse eval`.
 *
 * Both read a manifest, run the analysis pipeline on every row with the built-in
 * extractors (and any --plugin-dir plugins), and work on the segments' fused
 * vectors: train fits the heads and writes a model file; eval applies a model and
 * reports content precision/recall/F1, macro-F1 and the confusion matrix, and the
 * UAR of valence (3 classes) and arousal (low vs high), for the full model and for
 * its audio-only and video-only ablations (the other modality masked out and
 * imputed, as when a source lacks it), and what the sentiment rests on (the
 * basis shares, and how often a valence is claimed where nobody speaks).
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "tools/commands.h"
#include "tools/options.h"
#include "base/log.h"
#include "fusion/dataset.h"
#include "fusion/fit.h"
#include "fusion/heads.h"
#include "fusion/scores.h"
#include "tools/manifest.h"
#include "base/error.h"
#include "engine/scheduler.h"

#define DEFAULT_L2       1e-3
#define DEFAULT_MAX_ITER 400
#define DEFAULT_HIDDEN   16
/* grouped cross-validation on the training data chose it (docs/models-notebook.md) */
#define DEFAULT_SMOOTHING 0.5
/* the smoothing's change-point rule: grouped cross-validation on the training data
 * with transition files chose it (docs/models-notebook.md, "Music onset") */
#define DEFAULT_RESTART 2.0

/* What train and eval share: the manifest, -j, and tools/options.h's options. */
typedef struct common_opts {
    avf_tool_options opt; /* --plugin-dir, --model (eval), -v */
    const char *manifest;
    int jobs;
} common_opts;

/* Parses an option shared by train and eval: 1 if it was one, 0 if not, or a
 * negative error after a message. */
static int common_option(int opt, const char *arg, common_opts *c)
{
    char *end;
    int ret = avf_tool_option(&c->opt, opt, arg);

    if (ret != 0)
        return ret;
    switch (opt) {
    case 'm':
        c->manifest = arg;
        return 1;
    case 'j':
        c->jobs = (int)strtol(arg, &end, 10);
        if (*end || c->jobs < 1 || c->jobs > 16) {
            fprintf(stderr, "avfuse: -j: a number of jobs from 1 to 16, not '%s'\n", arg);
            return -EINVAL;
        }
        return 1;
    }
    return 0;
}

/* The extractors, the model (eval), the layout and the labelled dataset of a
 * manifest. */
typedef struct prepared {
    avf_setup setup;
    const avf_fused_layout *layout; /* the model's with one, else every extractor's */
    avf_manifest m;                 /* its rows' starts and contents score the onsets */
    avf_dataset data;
    int rows, failed;
} prepared;

static void prepared_clear(prepared *p)
{
    avf_dataset_clear(&p->data);
    avf_manifest_clear(&p->m);
    avf_setup_free(&p->setup);
}

/*
 * Registers the plugins and extracts the manifest's dataset. With need
 * AVF_MODEL_REQUIRED (eval), the model is loaded first and the dataset follows
 * its layout.
 */
static int prepare(prepared *p, const common_opts *c, enum avf_model_need need, const char *cmd)
{
    avf_setup_options so = avf_tool_setup_options(&c->opt, need, cmd, NULL);
    avf_pipeline_config cfg;
    char why[512];
    int ret;

    memset(p, 0, sizeof(*p));
    ret = avf_manifest_load(&p->m, c->manifest, why, sizeof(why));
    if (ret < 0) {
        fprintf(stderr, "avfuse: %s\n", why);
        return ret;
    }
    ret = avf_setup_load(&p->setup, &so);
    if (ret < 0)
        return ret;
    p->layout = avf_setup_layout(&p->setup);
    avf_pipeline_config_default(&cfg);
    avf_setup_apply(&p->setup, &cfg);
    cfg.fused = p->layout;
    cfg.model = NULL; /* the fused vectors are the data; the heads come later */
    avf_dataset_init(&p->data, p->layout->dim);
    ret = avf_manifest_extract(&p->m, &cfg, c->jobs, &p->data, &p->failed);
    p->rows = p->m.n;
    if (ret < 0)
        return ret;
    if (p->failed)
        fprintf(stderr, "avfuse: %d of %d manifest rows could not be analyzed (see above)\n",
                p->failed, p->rows);
    return 0;
}

#define MAX_CV_FOLDS 50

static int cross_validate(const prepared *p, const avf_fit_options *fopt, int k, int json);

/* A JSON summary of the labelled segments, plus the --summary file if given. */
static char *training_summary(const prepared *p, const char *summary_path)
{
    json_t *obj = json_object(), *counts = json_object(), *extra = NULL;
    int content[AVF_CONTENT_COUNT] = {0}, valence[3] = {0}, arousal[3] = {0}, mixtures = 0;
    char *text;

    for (int i = 0; i < p->data.n; i++) {
        int single = avf_content_single(p->data.content[i]);

        if (single >= 0)
            content[single]++;
        mixtures += p->data.content[i] > 0 && single < 0;
        if (p->data.valence[i] >= 0)
            valence[p->data.valence[i]]++;
        if (p->data.arousal[i] >= 0)
            arousal[p->data.arousal[i]]++;
    }
    for (int c = 0; c < AVF_CONTENT_COUNT; c++)
        json_object_set_new(counts, avf_content_names[c], json_integer(content[c]));
    json_object_set_new(obj, "segments", json_integer(p->data.n));
    json_object_set_new(obj, "manifest_rows", json_integer(p->rows));
    json_object_set_new(obj, "content_segments", counts);
    if (mixtures) /* absent without any, so that older data gives the same model bytes */
        json_object_set_new(obj, "mixture_segments", json_integer(mixtures));
    json_object_set_new(obj, "valence_segments",
                        json_pack("{s:i, s:i, s:i}", avf_valence_names[0], valence[0],
                                  avf_valence_names[1], valence[1], avf_valence_names[2],
                                  valence[2]));
    json_object_set_new(obj, "arousal_segments",
                        json_pack("{s:i, s:i, s:i}", avf_arousal_names[0], arousal[0],
                                  avf_arousal_names[1], arousal[1], avf_arousal_names[2],
                                  arousal[2]));
    if (summary_path) {
        json_error_t err;

        extra = json_load_file(summary_path, 0, &err);
        if (!extra)
            fprintf(stderr, "avfuse: %s:%d: %s (summary left out)\n", summary_path, err.line,
                    err.text);
        else
            json_object_set_new(obj, "data", extra);
    }
    text = json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(obj);
    return text;
}

/* A model's default name: its file's name without the extension ("default"). */
static const char *default_name(const char *path, char *buf, size_t size)
{
    const char *base = strrchr(path, '/');
    char *dot;

    snprintf(buf, size, "%s", base ? base + 1 : path);
    dot = strrchr(buf, '.');
    if (dot && dot != buf)
        *dot = '\0';
    return *buf ? buf : "model";
}

static void train_usage(FILE *f)
{
    fprintf(f,
            "usage: avfuse train --manifest M.csv -o MODEL [options]\n"
            "       avfuse train --manifest M.csv --cv K [--json] [options]\n"
            "\n"
            "Analyzes every manifest row, labels its 1-s segments (near-silent ones as\n"
            "silence), fits the content, valence and arousal heads and writes MODEL.\n"
            "When rows nobody speaks in come both with a valence (cries) and without\n"
            "(music, noise), it also fits the affect head, which lets the valence heads\n"
            "answer for such sounds.\n"
            "\n"
            "With --cv K it writes no model: it extracts the data once, splits the groups\n"
            "(the group column, else the file) into K folds by a hash of their name,\n"
            "fits the heads with the same options on K-1 folds and scores the held-out\n"
            "fold as avfuse eval does (each run of rows in order, smoothing included),\n"
            "and prints every fold's figures and the pooled out-of-fold scores.\n"
            "\n"
            "options:\n"
            "  -m, --manifest FILE  CSV: file,start,end,content,valence,arousal[,group]\n"
            "  -o, --output MODEL   the model file to write\n"
            "  --cv K               grouped K-fold cross-validation, 2 to 50 (no model)\n"
            "  --json               with --cv: print the scores as JSON\n"
            "  --name NAME          the model's name in messages (default: MODEL's file\n"
            "                       name without its extension)\n"
            "  --summary FILE       a JSON description of the data to embed in the model\n"
            "  --l2 VALUE           L2 penalty of the heads (default %g)\n"
            "  --max-iter N         optimizer iterations per head (default %d)\n"
            "  --hidden N           tanh units of a hidden layer in the content head\n"
            "                       (default %d; 0: a linear head)\n"
            "  --smoothing W        weight of the previous segment in the speech, music\n"
            "                       and noise logits, 0 to below 1 (default %g; 0: none)\n"
            "  --smoothing-restart D  restart the smoothing at a segment whose logit of\n"
            "                       speech, music or noise is D or more on the other side\n"
            "                       of 0 from the smoothed one (a change of content;\n"
            "                       default %g; 0: never)\n"
            "  -j, --jobs N         rows analyzed at a time (default 2)\n"
            "  --plugin-dir DIR     also use the feature plugins in DIR\n"
            "  -v, --verbose        more log lines\n"
            "  -h, --help           show this help\n",
            DEFAULT_L2, DEFAULT_MAX_ITER, DEFAULT_HIDDEN, DEFAULT_SMOOTHING, DEFAULT_RESTART);
}

/* Takes an option of the fit (--l2, --max-iter, --hidden, --smoothing,
 * --smoothing-restart): 1 if it was one, 0 if not, or -EINVAL after a message. */
static int fit_option(int opt, const char *arg, avf_fit_options *fopt)
{
    char *end;

    switch (opt) {
    case 'l':
        fopt->l2 = strtod(arg, &end);
        if (end == arg || *end || !(fopt->l2 >= 0 && fopt->l2 < INFINITY)) {
            fprintf(stderr, "avfuse: --l2: a number of 0 or more\n");
            return -EINVAL;
        }
        return 1;
    case 'I':
        fopt->max_iter = atoi(arg);
        if (fopt->max_iter < 1 || fopt->max_iter > 100000) {
            fprintf(stderr, "avfuse: --max-iter: 1 to 100000\n");
            return -EINVAL;
        }
        return 1;
    case 'H':
        fopt->hidden = atoi(arg);
        if (fopt->hidden < 0 || fopt->hidden > 1024) {
            fprintf(stderr, "avfuse: --hidden: 0 (linear) to 1024 units\n");
            return -EINVAL;
        }
        return 1;
    case 'S':
        fopt->smoothing = strtod(arg, &end);
        if (end == arg || *end || !(fopt->smoothing >= 0 && fopt->smoothing < 1)) {
            fprintf(stderr, "avfuse: --smoothing: a number from 0 to below 1\n");
            return -EINVAL;
        }
        return 1;
    case 'R':
        fopt->restart = strtod(arg, &end);
        if (end == arg || *end || !(fopt->restart >= 0 && fopt->restart < INFINITY)) {
            fprintf(stderr, "avfuse: --smoothing-restart: a number of 0 or more\n");
            return -EINVAL;
        }
        return 1;
    }
    return 0;
}

/* Fits the heads on p's dataset and writes the model file; returns the exit status. */
static int fit_and_save(const prepared *p, const char *output, const char *name,
                        const char *summary, const avf_fit_options *fopt)
{
    avf_model *model = NULL;
    char why[512], derived[256], *training = training_summary(p, summary);
    int ret;

    ret = avf_fit(&model, p->layout, &p->data,
                  name ? name : default_name(output, derived, sizeof(derived)), training, fopt, why,
                  sizeof(why));
    free(training);
    if (ret < 0) {
        fprintf(stderr, "avfuse: train: %s\n", why);
        return EXIT_INPUT_FAILED;
    }
    ret = avf_model_save(model, output, why, sizeof(why));
    avf_model_free(&model);
    if (ret < 0) {
        fprintf(stderr, "avfuse: %s: %s\n", output, why);
        return EXIT_INPUT_FAILED;
    }
    fprintf(stderr, "avfuse: %s: %d segments from %d rows, %d features\n", output, p->data.n,
            p->rows, p->layout->dim);
    return p->failed ? EXIT_INPUT_FAILED : 0;
}

int avf_cmd_train(int argc, char **argv)
{
    static const struct option options[] = {
        {"manifest", required_argument, NULL, 'm'},
        {"output", required_argument, NULL, 'o'},
        {"name", required_argument, NULL, 'n'},
        {"summary", required_argument, NULL, 's'},
        {"l2", required_argument, NULL, 'l'},
        {"hidden", required_argument, NULL, 'H'},
        {"max-iter", required_argument, NULL, 'I'},
        {"smoothing", required_argument, NULL, 'S'},
        {"smoothing-restart", required_argument, NULL, 'R'},
        {"cv", required_argument, NULL, 'K'},
        {"json", no_argument, NULL, 'J'},
        {"jobs", required_argument, NULL, 'j'},
        AVF_OPTION_PLUGIN_DIR,
        AVF_OPTION_VERBOSE,
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    common_opts c = {.jobs = 2};
    avf_fit_options fopt = {DEFAULT_L2, DEFAULT_MAX_ITER, DEFAULT_HIDDEN, DEFAULT_SMOOTHING,
                            DEFAULT_RESTART};
    const char *output = NULL, *name = NULL, *summary = NULL;
    prepared p = {0};
    int opt, cv = 0, json = 0, status = EXIT_USAGE;
    char *end;

    avf_tool_options_init(&c.opt);
    while ((opt = getopt_long(argc, argv, "m:o:j:vh", options, NULL)) != -1) {
        int r = common_option(opt, optarg, &c);

        if (r == 0)
            r = fit_option(opt, optarg, &fopt);
        if (r < 0) {
            status = avf_tool_option_status(r);
            goto done;
        }
        if (r)
            continue;
        switch (opt) {
        case 'o':
            output = optarg;
            break;
        case 'n':
            name = optarg;
            break;
        case 's':
            summary = optarg;
            break;
        case 'K':
            cv = (int)strtol(optarg, &end, 10);
            if (*end || cv < 2 || cv > MAX_CV_FOLDS) {
                fprintf(stderr, "avfuse: --cv: a number of folds from 2 to %d\n", MAX_CV_FOLDS);
                goto done;
            }
            break;
        case 'J':
            json = 1;
            break;
        case 'h':
            train_usage(stdout);
            status = 0;
            goto done;
        default:
            train_usage(stderr);
            goto done;
        }
    }
    avf_log_set_level(c.opt.log_level);
    if (!c.manifest || !(output || cv) || optind < argc || (json && !cv)) {
        train_usage(stderr);
        goto done;
    }
    status = EXIT_INPUT_FAILED;
    if (prepare(&p, &c, AVF_MODEL_NONE, "train") < 0)
        goto done;
    if (cv)
        status = cross_validate(&p, &fopt, cv, json);
    if (output && (!cv || status == 0))
        status = fit_and_save(&p, output, name, summary, &fopt);
done:
    prepared_clear(&p);
    avf_tool_options_free(&c.opt);
    return status;
}

/* ---- eval ---- */

enum ablation { FULL, AUDIO_ONLY, VIDEO_ONLY, NB_ABLATIONS };
static const char *const ablation_names[NB_ABLATIONS] = {"full", "audio_only", "video_only"};

/*
 * What the sentiment rests on (fusion/heads.h), counted over segments: the basis
 * each got, and three checks of the valence against the manifest's truth. A
 * no-voice segment is one labelled neither speech nor silence and without a
 * valence (music, noise, effects): any polar label there is claimed without
 * evidence. Neutral speech should stay neutral; an affect segment (no speech, a
 * negative valence label: cries) should be called negative.
 */
typedef struct basis_stats {
    int64_t basis[AVF_BASIS_COUNT];
    int64_t no_voice, no_voice_polar;
    int64_t neutral_speech, neutral_speech_neutral;
    int64_t affect, affect_negative;
} basis_stats;

typedef struct eval_result {
    /* valence and arousal have one more predicted column than truth classes:
     * "none", a segment whose sentiment gives no value (a miss for its row's class;
     * a class without support is left out of UAR, so it does not count itself) */
    avf_confusion content, valence, arousal; /* content: single-class segments only */
    avf_mixture_scores mixture;              /* segments of two or more true classes */
    avf_onset_scores onset;                  /* music starts */
    basis_stats basis;
} eval_result;

static const char *const valence_columns[] = {"negative", "neutral", "positive", "none"};
static const char *const arousal_columns[] = {"low", "high", "none"};

/* Adds segment i's sentiment r to the valence and arousal confusions: a value the
 * basis leaves unset is predicted "none". */
static void sentiment_add(eval_result *res, const avf_dataset *d, int i, const avf_head_result *r)
{
    int v = d->valence[i], a = d->arousal[i];

    if (!r->sentiment_valid)
        return;
    if (v >= 0)
        avf_confusion_add(&res->valence, v, r->valence_valid ? r->label : AVF_VALENCE_COUNT);
    /* arousal is scored low vs high: medium has no side */
    if (a == AVF_AROUSAL_LOW || a == AVF_AROUSAL_HIGH)
        avf_confusion_add(&res->arousal, a == AVF_AROUSAL_HIGH,
                          r->arousal_valid ? r->arousal > 0 : 2);
}

/* Counts segment i into the basis shares and checks (basis_stats). */
static void basis_add(basis_stats *b, const avf_dataset *d, int i, const avf_head_result *r)
{
    const int labelled = r->valence_valid, content = d->content[i], valence = d->valence[i];
    /* a labelled sound nobody speaks in */
    const int nobody = content != 0 && !avf_content_has(content, AVF_SPEECH) &&
                       !avf_content_has(content, AVF_SILENCE);

    if (!r->sentiment_valid)
        return;
    b->basis[r->basis]++;
    if (nobody && valence < 0) {
        b->no_voice++;
        b->no_voice_polar += labelled && r->label != AVF_NEUTRAL;
    }
    if (avf_content_has(content, AVF_SPEECH) && valence == AVF_NEUTRAL) {
        b->neutral_speech++;
        b->neutral_speech_neutral += labelled && r->label == AVF_NEUTRAL;
    }
    if (nobody && valence == AVF_NEGATIVE) {
        b->affect++;
        b->affect_negative += labelled && r->label == AVF_NEGATIVE;
    }
}

static double share(int64_t part, int64_t whole)
{
    return whole ? (double)part / (double)whole : NAN;
}

static void basis_merge(basis_stats *dst, const basis_stats *src)
{
    for (int k = 0; k < AVF_BASIS_COUNT; k++)
        dst->basis[k] += src->basis[k];
    dst->no_voice += src->no_voice;
    dst->no_voice_polar += src->no_voice_polar;
    dst->neutral_speech += src->neutral_speech;
    dst->neutral_speech_neutral += src->neutral_speech_neutral;
    dst->affect += src->affect;
    dst->affect_negative += src->affect_negative;
}

static void eval_result_init(eval_result res[NB_ABLATIONS])
{
    for (int a = 0; a < NB_ABLATIONS; a++) {
        avf_confusion_init(&res[a].content, AVF_CONTENT_COUNT);
        avf_confusion_init(&res[a].valence, AVF_VALENCE_COUNT + 1);
        avf_confusion_init(&res[a].arousal, 3);
        memset(&res[a].basis, 0, sizeof(res[a].basis));
        avf_mixture_init(&res[a].mixture);
        avf_onset_init(&res[a].onset, AVF_MUSIC);
    }
}

static void eval_result_clear(eval_result res[NB_ABLATIONS])
{
    for (int a = 0; a < NB_ABLATIONS; a++)
        avf_onset_clear(&res[a].onset);
}

/* Adds src's counts to dst: the pooled scores of cross-validation's folds. */
static int eval_result_merge(eval_result dst[NB_ABLATIONS], const eval_result src[NB_ABLATIONS])
{
    for (int a = 0; a < NB_ABLATIONS; a++) {
        avf_confusion_merge(&dst[a].content, &src[a].content);
        avf_confusion_merge(&dst[a].valence, &src[a].valence);
        avf_confusion_merge(&dst[a].arousal, &src[a].arousal);
        avf_mixture_merge(&dst[a].mixture, &src[a].mixture);
        basis_merge(&dst[a].basis, &src[a].basis);
        if (avf_onset_merge(&dst[a].onset, &src[a].onset) < 0)
            return AVERROR(ENOMEM);
    }
    return 0;
}

/* Masks a modality out of x as if the source lacked it. */
static void ablate(const avf_fused_layout *l, double *x, enum ablation a)
{
    if (a == AUDIO_ONLY) {
        for (int i = 0; i < l->nb_video; i++)
            x[l->video_off + i] = NAN;
        x[l->cross_off] = x[l->cross_off + 1] = NAN;
        x[l->mask_video] = 0;
    } else if (a == VIDEO_ONLY) {
        for (int i = 0; i < l->nb_audio; i++)
            x[l->audio_off + i] = NAN;
        x[l->cross_off] = x[l->cross_off + 1] = NAN;
        x[l->mask_audio] = 0;
    }
}

/*
 * Scores segment i's content: a single-class truth in the confusion matrix (the
 * most probable class is the prediction), a truth of several classes as a
 * mixture, and every segment for the music onsets.
 */
static int score_content(const prepared *p, int i, const avf_head_result *r, eval_result *res)
{
    const int truth = p->data.content[i], single = avf_content_single(truth);
    const avf_manifest_row *row = &p->m.rows[p->data.row[i]];
    const avf_onset_segment seg = {p->data.run[i], p->data.row[i], row->content,         row->start,
                                   p->data.t0[i],  p->data.t1[i],  r->content[AVF_MUSIC]};
    int best = 0;

    if (!r->content_valid)
        return 0;
    if (single >= 0) {
        for (int c = 1; c < AVF_CONTENT_COUNT; c++)
            if (r->content[c] > r->content[best])
                best = c;
        avf_confusion_add(&res->content, single, best);
    }
    avf_mixture_add(&res->mixture, truth, r->content);
    return avf_onset_add(&res->onset, &seg);
}

/*
 * Scores the segments as the pipeline would have labelled them: the heads see each
 * run's segments in order, from a fresh start at the run's first, so what they
 * smooth over segments (fusion/heads.h) spans one run (one stream) only. With
 * fold (one value per segment), only the segments of fold `held` are scored.
 * Adds to res, which the caller initialized.
 */
static int evaluate(const prepared *p, avf_heads *heads, const int *fold, int held,
                    eval_result res[NB_ABLATIONS])
{
    double *x = malloc((size_t)p->layout->dim * sizeof(*x));
    int ret = 0;

    if (!x)
        return AVERROR(ENOMEM);
    for (int a = 0; a < NB_ABLATIONS && ret >= 0; a++) {
        int run = -1;

        for (int i = 0; i < p->data.n && ret >= 0; i++) {
            avf_head_result r;

            if (fold && fold[i] != held)
                continue;
            if (p->data.run[i] != run)
                avf_heads_reset(heads);
            run = p->data.run[i];
            memcpy(x, p->data.x + (size_t)i * p->layout->dim, (size_t)p->layout->dim * sizeof(*x));
            ablate(p->layout, x, (enum ablation)a);
            avf_heads_apply(heads, x, &r);
            ret = score_content(p, i, &r, &res[a]);
            sentiment_add(&res[a], &p->data, i, &r);
            basis_add(&res[a].basis, &p->data, i, &r);
        }
        avf_onset_finish(&res[a].onset);
    }
    free(x);
    return ret;
}

/* "speech+music" for a content bitmask. */
static const char *mask_name(int mask, char *buf, size_t size)
{
    size_t len = 0;

    buf[0] = '\0';
    for (int c = 0; c < AVF_CONTENT_COUNT; c++)
        if (mask & (1 << c) && len < size)
            len += (size_t)snprintf(buf + len, size - len, "%s%s", len ? "+" : "",
                                    avf_content_names[c]);
    return buf;
}

/* The mixture and music-onset figures of one result, as text. */
static void print_mixtures_onset(const eval_result *res)
{
    const avf_onset_scores *o = &res->onset;
    int64_t total;
    double share = avf_mixture_share(&res->mixture, -1, &total);
    char name[64];

    if (total) {
        printf("mixtures (segments of several true classes: every true class >= 0.5)\n");
        for (int m = 0; m < AVF_SCORES_MAX_MASKS; m++)
            if (res->mixture.total[m])
                printf("  %-22s %.3f of %lld segments\n", mask_name(m, name, sizeof(name)),
                       avf_mixture_share(&res->mixture, m, NULL), (long long)res->mixture.total[m]);
        printf("  %-22s %.3f of %lld segments\n", "all", share, (long long)total);
    } else {
        printf("mixtures: no segment of several true classes\n");
    }
    if (o->starts)
        printf("music onset (%d music starts): within 1 s %.3f, median delay %.2f s, "
               "never music >= 0.5: %d\n",
               o->starts, avf_onset_share_within(o, 1.0), avf_onset_median(o), o->never);
    else
        printf("music onset: no music start\n");
}

/* "0.123 (12 of 97)", or "- (none)" when there is no such segment. */
static void print_share(const char *what, int64_t part, int64_t whole)
{
    if (whole)
        printf("  %-44s %.3f (%lld of %lld)\n", what, share(part, whole), (long long)part,
               (long long)whole);
    else
        printf("  %-44s - (no such segment)\n", what);
}

static void print_basis_text(const basis_stats *b)
{
    int64_t total = 0;

    for (int k = 0; k < AVF_BASIS_COUNT; k++)
        total += b->basis[k];
    printf("sentiment basis (%lld segments):", (long long)total);
    for (int k = 0; k < AVF_BASIS_COUNT; k++)
        printf(" %s %.3f", avf_basis_names[k], total ? share(b->basis[k], total) : 0.0);
    printf("\n");
    print_share("no-voice segments with a polar valence", b->no_voice_polar, b->no_voice);
    print_share("neutral speech labelled neutral", b->neutral_speech_neutral, b->neutral_speech);
    print_share("non-speech negative affect labelled negative", b->affect_negative, b->affect);
}

/* A share as JSON: null when nothing was there to measure. */
static json_t *share_json(double v)
{
    return isnan(v) ? json_null() : json_real(v);
}

static json_t *count_share_json(int64_t part, int64_t whole)
{
    return json_pack("{s:o, s:I, s:I}", "share", share_json(share(part, whole)), "count",
                     (json_int_t)part, "of", (json_int_t)whole);
}

static json_t *basis_json(const basis_stats *b)
{
    json_t *shares = json_object();
    int64_t total = 0;

    for (int k = 0; k < AVF_BASIS_COUNT; k++)
        total += b->basis[k];
    for (int k = 0; k < AVF_BASIS_COUNT; k++)
        json_object_set_new(shares, avf_basis_names[k],
                            json_real(total ? share(b->basis[k], total) : 0.0));
    return json_pack("{s:I, s:o, s:o, s:o, s:o}", "segments", (json_int_t)total, "basis", shares,
                     "no_voice_polar", count_share_json(b->no_voice_polar, b->no_voice),
                     "neutral_speech_neutral",
                     count_share_json(b->neutral_speech_neutral, b->neutral_speech),
                     "affect_negative", count_share_json(b->affect_negative, b->affect));
}

static void print_text(const eval_result res[NB_ABLATIONS], const char *model_name)
{
    avf_scores s;

    printf("model: %s\n", model_name);
    avf_confusion_scores(&res[FULL].content, &s);
    printf("content (%lld single-class segments)\n  %-8s %9s %9s %9s %9s\n", (long long)s.total,
           "class", "precision", "recall", "f1", "support");
    for (int c = 0; c < AVF_CONTENT_COUNT; c++)
        printf("  %-8s %9.3f %9.3f %9.3f %9lld\n", avf_content_names[c], s.precision[c],
               s.recall[c], s.f1[c], (long long)s.support[c]);
    printf("  macro-F1 %.3f, accuracy %.3f\n", s.macro_f1, s.accuracy);
    printf("  confusion (rows: truth, columns: predicted)\n  %-8s", "");
    for (int c = 0; c < AVF_CONTENT_COUNT; c++)
        printf(" %8s", avf_content_names[c]);
    printf("\n");
    for (int t = 0; t < AVF_CONTENT_COUNT; t++) {
        printf("  %-8s", avf_content_names[t]);
        for (int c = 0; c < AVF_CONTENT_COUNT; c++)
            printf(" %8lld", (long long)res[FULL].content.m[t][c]);
        printf("\n");
    }
    print_mixtures_onset(&res[FULL]);
    for (int a = 0; a < NB_ABLATIONS; a++) {
        avf_scores cs, vs, as;

        avf_confusion_scores(&res[a].content, &cs);
        avf_confusion_scores(&res[a].valence, &vs);
        avf_confusion_scores(&res[a].arousal, &as);
        printf("%-10s content macro-F1 %.3f | valence UAR %.3f (%lld segments) | arousal "
               "low/high UAR %.3f (%lld segments)\n",
               ablation_names[a], cs.macro_f1, vs.uar, (long long)vs.total, as.uar,
               (long long)as.total);
    }
    print_basis_text(&res[FULL].basis);
}

static json_t *confusion_json(const avf_confusion *c, const char *const *names)
{
    json_t *obj = json_object(), *matrix = json_array(), *classes = json_object();
    avf_scores s;

    avf_confusion_scores(c, &s);
    for (int t = 0; t < c->k; t++) {
        json_t *row = json_array();

        for (int p = 0; p < c->k; p++)
            json_array_append_new(row, json_integer(c->m[t][p]));
        json_array_append_new(matrix, row);
        json_object_set_new(classes, names[t],
                            json_pack("{s:f, s:f, s:f, s:I}", "precision", s.precision[t], "recall",
                                      s.recall[t], "f1", s.f1[t], "support",
                                      (json_int_t)s.support[t]));
    }
    json_object_set_new(obj, "classes", classes);
    json_object_set_new(obj, "macro_f1", json_real(s.macro_f1));
    json_object_set_new(obj, "uar", json_real(s.uar));
    json_object_set_new(obj, "accuracy", json_real(s.accuracy));
    json_object_set_new(obj, "confusion", matrix);
    return obj;
}

/* {"mixtures": {...}, "music_onset": {...}} of one result, into obj. */
static void mixtures_onset_json(json_t *obj, const eval_result *res)
{
    json_t *mix = json_object(), *combos = json_object();
    const avf_onset_scores *o = &res->onset;
    int64_t total;
    double share = avf_mixture_share(&res->mixture, -1, &total);
    char name[64];

    for (int m = 0; m < AVF_SCORES_MAX_MASKS; m++)
        if (res->mixture.total[m])
            json_object_set_new(combos, mask_name(m, name, sizeof(name)),
                                json_pack("{s:o, s:I}", "found",
                                          share_json(avf_mixture_share(&res->mixture, m, NULL)),
                                          "segments", (json_int_t)res->mixture.total[m]));
    json_object_set_new(mix, "found", share_json(share));
    json_object_set_new(mix, "segments", json_integer(total));
    json_object_set_new(mix, "combinations", combos);
    json_object_set_new(obj, "mixtures", mix);
    json_object_set_new(obj, "music_onset",
                        json_pack("{s:i, s:o, s:o, s:i}", "starts", o->starts, "within_1s",
                                  share_json(avf_onset_share_within(o, 1.0)), "median_delay_s",
                                  share_json(avf_onset_median(o)), "never", o->never));
}

/* The scores of every ablation as one JSON object (the caller owns it). */
static json_t *result_json(const eval_result res[NB_ABLATIONS], const char *model_name)
{
    json_t *out = json_pack("{s:s}", "model", model_name);

    for (int a = 0; a < NB_ABLATIONS; a++) {
        json_t *obj = json_pack("{s:o, s:o, s:o, s:o}", "content",
                                confusion_json(&res[a].content, avf_content_names), "valence",
                                confusion_json(&res[a].valence, valence_columns), "arousal",
                                confusion_json(&res[a].arousal, arousal_columns), "sentiment",
                                basis_json(&res[a].basis));

        mixtures_onset_json(obj, &res[a]);
        json_object_set_new(out, ablation_names[a], obj);
    }
    return out;
}

static void print_json_object(json_t *out)
{
    char *text = json_dumps(out, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6));

    if (text)
        printf("%s\n", text);
    free(text);
}

static void print_json(const eval_result res[NB_ABLATIONS], const char *model_name)
{
    json_t *out = result_json(res, model_name);

    print_json_object(out);
    json_decref(out);
}

/* ---- quality floors ---- */

#define MAX_FLOORS 16

typedef struct floor_opt {
    const char *name;
    double value;
} floor_opt;

/* The last figure, no_voice_polar, is better low: its "floor" is a ceiling. */
static const char *const figure_names[] = {
    "content_macro_f1",       "valence_uar",     "arousal_uar",   "mixture_both", "music_onset_1s",
    "neutral_speech_neutral", "affect_negative", "no_voice_polar"};
#define NO_VOICE_POLAR 7
#define NB_FIGURES     ((int)(sizeof(figure_names) / sizeof(figure_names[0])))

/* Figure f of the full model; NAN when the manifest has nothing to measure it on. */
static double figure(const eval_result *res, int f)
{
    avf_scores s;

    switch (f) {
    case 0:
        avf_confusion_scores(&res->content, &s);
        return s.total ? s.macro_f1 : NAN;
    case 1:
        avf_confusion_scores(&res->valence, &s);
        return s.total ? s.uar : NAN;
    case 2:
        avf_confusion_scores(&res->arousal, &s);
        return s.total ? s.uar : NAN;
    case 3:
        return avf_mixture_share(&res->mixture, -1, NULL);
    case 4:
        return avf_onset_share_within(&res->onset, 1.0);
    case 5:
        return share(res->basis.neutral_speech_neutral, res->basis.neutral_speech);
    case 6:
        return share(res->basis.affect_negative, res->basis.affect);
    default:
        return share(res->basis.no_voice_polar, res->basis.no_voice);
    }
}

/* Parses --floor NAME=VALUE into floors; -EINVAL after a message. */
static int parse_floor(const char *arg, floor_opt *floors, int *nb)
{
    const char *eq = strchr(arg, '=');
    char *end;

    if (*nb == MAX_FLOORS) {
        fprintf(stderr, "avfuse: --floor: at most %d\n", MAX_FLOORS);
        return -EINVAL;
    }
    for (int f = 0; eq && f < NB_FIGURES; f++)
        if (strlen(figure_names[f]) == (size_t)(eq - arg) &&
            !strncmp(arg, figure_names[f], (size_t)(eq - arg))) {
            floors[*nb].name = figure_names[f];
            floors[*nb].value = strtod(eq + 1, &end);
            if (end == eq + 1 || *end || !isfinite(floors[*nb].value))
                break;
            (*nb)++;
            return 0;
        }
    fprintf(stderr,
            "avfuse: --floor: NAME=VALUE with NAME one of content_macro_f1, valence_uar, "
            "arousal_uar, mixture_both, music_onset_1s, neutral_speech_neutral, "
            "affect_negative, no_voice_polar (a ceiling), not '%s'\n",
            arg);
    return -EINVAL;
}

/* Checks the full model's figures against the floors: the number under its floor
 * (or not measurable), each named on stderr. */
static int check_floors(const eval_result *res, const floor_opt *floors, int nb)
{
    int failed = 0;

    for (int i = 0; i < nb; i++)
        for (int f = 0; f < NB_FIGURES; f++) {
            double v;

            if (strcmp(floors[i].name, figure_names[f]))
                continue;
            v = figure(res, f);
            if (isnan(v)) {
                fprintf(stderr, "avfuse: eval: %s has no segment to measure it on (floor %g)\n",
                        figure_names[f], floors[i].value);
                failed++;
            } else if (f == NO_VOICE_POLAR ? v > floors[i].value : v < floors[i].value) {
                fprintf(stderr, "avfuse: eval: %s %.4f is %s %g\n", figure_names[f], v,
                        f == NO_VOICE_POLAR ? "over its ceiling" : "under its floor",
                        floors[i].value);
                failed++;
            }
        }
    return failed;
}

static void eval_usage(FILE *f)
{
    fprintf(f, "usage: avfuse eval --manifest M.csv [--model MODEL] [--json] [options]\n"
               "\n"
               "Scores a model on the labelled 1-s segments of a manifest: content\n"
               "precision/recall/F1, macro-F1 and confusion matrix over the segments of one\n"
               "true class; mixtures (segments of several true classes, e.g. speech+music:\n"
               "the share where every true class gets >= 0.5); music onset (the delay from\n"
               "a music start to the end of its first segment with music >= 0.5: the share\n"
               "within 1 s, the median, how many never); valence UAR (3 classes) and\n"
               "arousal UAR (low vs high); for the full model and for its audio-only and\n"
               "video-only ablations. A run of rows (same file, each starting where the\n"
               "previous ended) is one stream: the heads carry over between its rows.\n"
               "Then what the sentiment rests on: the share of each basis (voice, scene,\n"
               "none), of no-voice segments given a polar valence, of neutral speech called\n"
               "neutral, and of non-speech negative affect (cries) called negative. A segment\n"
               "without a valence or arousal counts as a miss for its class.\n"
               "\n"
               "options:\n"
               "  -m, --manifest FILE  CSV: file,start,end,content,valence,arousal[,group]\n"
               "  --model MODEL        the model (default: the installed default model)\n"
               "  --json               print the scores as JSON\n"
               "  --floor NAME=VALUE   exit with status 1, naming the figure, when the full\n"
               "                       model's NAME is under VALUE or cannot be measured;\n"
               "                       NAME: content_macro_f1, valence_uar, arousal_uar,\n"
               "                       mixture_both, music_onset_1s, neutral_speech_neutral,\n"
               "                       affect_negative; no_voice_polar is a ceiling: it\n"
               "                       fails over VALUE (repeatable)\n"
               "  -j, --jobs N         rows analyzed at a time (default 2)\n"
               "  --plugin-dir DIR     also use the feature plugins in DIR\n"
               "  -v, --verbose        more log lines\n"
               "  -h, --help           show this help\n");
}

int avf_cmd_eval(int argc, char **argv)
{
    static const struct option options[] = {
        {"manifest", required_argument, NULL, 'm'},
        AVF_OPTION_MODEL,
        {"json", no_argument, NULL, 'J'},
        {"floor", required_argument, NULL, 'F'},
        {"jobs", required_argument, NULL, 'j'},
        AVF_OPTION_PLUGIN_DIR,
        AVF_OPTION_VERBOSE,
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    common_opts c = {.jobs = 2};
    eval_result res[NB_ABLATIONS];
    floor_opt floors[MAX_FLOORS];
    avf_heads *heads = NULL;
    prepared p = {0};
    char why[512];
    int opt, json = 0, nb_floors = 0, ret, status = EXIT_USAGE;

    eval_result_init(res);
    avf_tool_options_init(&c.opt);
    while ((opt = getopt_long(argc, argv, "m:j:vh", options, NULL)) != -1) {
        int r = common_option(opt, optarg, &c);

        if (r == 0 && opt == 'F')
            r = parse_floor(optarg, floors, &nb_floors) < 0 ? -EINVAL : 1;
        if (r < 0) {
            status = avf_tool_option_status(r);
            goto done;
        }
        if (r)
            continue;
        switch (opt) {
        case 'J':
            json = 1;
            break;
        case 'h':
            eval_usage(stdout);
            status = 0;
            goto done;
        default:
            eval_usage(stderr);
            goto done;
        }
    }
    avf_log_set_level(c.opt.log_level);
    if (!c.manifest || optind < argc) {
        eval_usage(stderr);
        goto done;
    }
    status = EXIT_INPUT_FAILED;
    ret = prepare(&p, &c, AVF_MODEL_REQUIRED, "eval");
    if (ret < 0)
        goto done;
    heads = avf_heads_new(p.setup.model, p.layout, why, sizeof(why));
    if (!heads) {
        fprintf(stderr, "avfuse: eval: %s\n", why);
        goto done;
    }
    ret = evaluate(&p, heads, NULL, 0, res);
    if (ret < 0) {
        fprintf(stderr, "avfuse: eval: out of memory\n");
        goto done;
    }
    if (json)
        print_json(res, p.setup.model->name);
    else
        print_text(res, p.setup.model->name);
    status = p.failed ? EXIT_INPUT_FAILED : 0;
    if (check_floors(&res[FULL], floors, nb_floors))
        status = EXIT_INPUT_FAILED;
done:
    eval_result_clear(res);
    avf_heads_free(&heads);
    prepared_clear(&p);
    avf_tool_options_free(&c.opt);
    return status;
}

/* ---- grouped cross-validation (avfuse train --cv K) ---- */

/* The segments of p not in fold `held`, in order: a fold's training data. */
static int training_part(const prepared *p, const int *fold, int held, avf_dataset *out)
{
    avf_dataset_init(out, p->data.dim);
    for (int i = 0; i < p->data.n; i++) {
        avf_dataset_label label;
        int ret;

        if (fold[i] == held)
            continue;
        avf_dataset_label_of(&p->data, i, &label);
        ret = avf_dataset_append(out, p->data.x + (size_t)i * p->data.dim, &label);
        if (ret < 0)
            return ret;
    }
    return 0;
}

/* One line of a fold's (or the pooled) figures. */
static void print_cv_line(const char *what, int segments, int groups, const eval_result *res)
{
    avf_scores cs, vs, as;
    double mix = avf_mixture_share(&res->mixture, -1, NULL);
    double onset = avf_onset_share_within(&res->onset, 1.0);

    avf_confusion_scores(&res->content, &cs);
    avf_confusion_scores(&res->valence, &vs);
    avf_confusion_scores(&res->arousal, &as);
    printf("%-7s %8d %6d %8.3f %6.3f %6.3f %6.3f %6.3f %7.3f %7.3f %7.3f %6.3f %6.2f %5d\n", what,
           segments, groups, cs.macro_f1, cs.f1[AVF_SPEECH], cs.f1[AVF_MUSIC], cs.f1[AVF_NOISE],
           cs.f1[AVF_SILENCE], vs.uar, as.uar, mix, onset, avf_onset_median(&res->onset),
           res->onset.never);
}

/* Fits on every fold but `held` and scores fold `held` into res. */
static int cv_fold(const prepared *p, const int *fold, int held, const avf_fit_options *fopt,
                   eval_result res[NB_ABLATIONS])
{
    avf_dataset train;
    avf_model *model = NULL;
    avf_heads *heads = NULL;
    char why[512];
    int ret = training_part(p, fold, held, &train);

    if (ret >= 0)
        ret = avf_fit(&model, p->layout, &train, "cv", NULL, fopt, why, sizeof(why));
    else
        snprintf(why, sizeof(why), "out of memory");
    avf_dataset_clear(&train);
    if (ret >= 0 && !(heads = avf_heads_new(model, p->layout, why, sizeof(why))))
        ret = AVERROR(ENOMEM);
    if (ret >= 0 && (ret = evaluate(p, heads, fold, held, res)) < 0)
        snprintf(why, sizeof(why), "out of memory");
    if (ret < 0)
        fprintf(stderr, "avfuse: train: fold %d: %s\n", held + 1, why);
    avf_heads_free(&heads);
    avf_model_free(&model);
    return ret;
}

/* The fold of every segment (by its group's name) and the groups per fold. */
static int *assign_folds(const prepared *p, int k, int *groups_per_fold)
{
    int *fold = malloc((size_t)(p->data.n ? p->data.n : 1) * sizeof(*fold));
    int *of_group = malloc((size_t)(p->m.nb_groups ? p->m.nb_groups : 1) * sizeof(*of_group));

    if (fold && of_group) {
        for (int g = 0; g < p->m.nb_groups; g++) {
            of_group[g] = avf_manifest_fold(p->m.groups[g], k);
            groups_per_fold[of_group[g]]++;
        }
        for (int i = 0; i < p->data.n; i++)
            fold[i] = of_group[p->data.group[i]];
    }
    free(of_group);
    if (!of_group) {
        free(fold);
        return NULL;
    }
    return fold;
}

/*
 * Grouped K-fold cross-validation on p's dataset: every fold's heads are fitted
 * with fopt on the other folds and scored on it as eval scores (runs in order,
 * smoothing included); prints each fold and the pooled out-of-fold scores.
 * Returns the exit status.
 */
static int cross_validate(const prepared *p, const avf_fit_options *fopt, int k, int json)
{
    eval_result pooled[NB_ABLATIONS], res[NB_ABLATIONS];
    int groups[MAX_CV_FOLDS] = {0}, *fold = assign_folds(p, k, groups), ret = 0;
    json_t *out =
        json ? json_pack("{s:i, s:i, s:[]}", "folds", k, "segments", p->data.n, "per_fold") : NULL;

    if (!fold || (json && !out)) {
        free(fold);
        json_decref(out);
        fprintf(stderr, "avfuse: train: out of memory\n");
        return EXIT_INPUT_FAILED;
    }
    eval_result_init(pooled);
    if (!json)
        printf("grouped %d-fold cross-validation: %d segments, %d groups\n%-7s %8s %6s %8s %6s "
               "%6s %6s %6s %7s %7s %7s %6s %6s %5s\n",
               k, p->data.n, p->m.nb_groups, "fold", "segments", "groups", "macroF1", "speech",
               "music", "noise", "silent", "valUAR", "aroUAR", "mixture", "on<=1s", "median",
               "never");
    for (int f = 0; f < k && ret >= 0; f++) {
        int n = 0;
        char what[16];

        for (int i = 0; i < p->data.n; i++)
            n += fold[i] == f;
        if (n == 0 || n == p->data.n) {
            fprintf(stderr, "avfuse: train: fold %d holds %s segment: skipped\n", f + 1,
                    n ? "every" : "no");
            continue;
        }
        eval_result_init(res);
        ret = cv_fold(p, fold, f, fopt, res);
        if (ret >= 0)
            ret = eval_result_merge(pooled, res);
        snprintf(what, sizeof(what), "%d", f + 1);
        if (ret >= 0 && json) {
            json_t *one = result_json(res, "cv");

            json_object_set_new(one, "fold", json_integer(f + 1));
            json_object_set_new(one, "segments", json_integer(n));
            json_object_set_new(one, "groups", json_integer(groups[f]));
            json_array_append_new(json_object_get(out, "per_fold"), one);
        } else if (ret >= 0) {
            print_cv_line(what, n, groups[f], &res[FULL]);
        }
        eval_result_clear(res);
    }
    if (ret >= 0 && json) {
        json_object_set_new(out, "pooled", result_json(pooled, "cv"));
        print_json_object(out);
    } else if (ret >= 0) {
        print_cv_line("pooled", p->data.n, p->m.nb_groups, &pooled[FULL]);
        printf("\npooled out-of-fold scores:\n");
        print_text(pooled, "cross-validation");
    }
    json_decref(out);
    eval_result_clear(pooled);
    free(fold);
    return ret < 0 ? EXIT_INPUT_FAILED : p->failed ? EXIT_INPUT_FAILED : 0;
}
