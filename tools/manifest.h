/*
 * manifest.h - the training/evaluation manifest: a CSV with the header
 * file,start,end,content,valence,arousal and an optional group column; paths
 * relative to the manifest's folder. content is one class or several joined by
 * '+' (speech+music: both true). Consecutive rows of one file where a row starts
 * where the previous one ended form one run, analyzed as one stream.
 */
#ifndef AVF_MANIFEST_H
#define AVF_MANIFEST_H

#include <stddef.h>

#include "fusion/dataset.h"
#include "engine/scheduler.h"

typedef struct avf_manifest_row {
    char *path;   /* resolved against the manifest's folder */
    double start; /* seconds; 0 when empty */
    double end;   /* seconds; INFINITY when empty */
    int content;  /* bitmask of avf_content classes, or 0: no label */
    int valence;  /* 0..2 or -1 */
    int arousal;  /* 0..2 or -1 */
    int group;    /* index into the manifest's groups */
    int run;      /* index of the first row of its run */
} avf_manifest_row;

typedef struct avf_manifest {
    avf_manifest_row *rows;
    int n;
    char **groups; /* the distinct groups, in order of first use: the group column,
                    * or the file column as written when it is empty or absent */
    int nb_groups;
} avf_manifest;

/*
 * Reads a manifest. A row continuing a run (same file, start == the previous
 * row's end) belongs to the run's group: an empty group takes it, another one is
 * refused. On failure returns a negative error and writes
 * "FILE:LINE: what" into why. The caller frees m with avf_manifest_clear().
 */
int avf_manifest_load(avf_manifest *m, const char *path, char *why, size_t why_size);
void avf_manifest_clear(avf_manifest *m);

/*
 * The cross-validation fold, 0..k-1, of a group name: a fixed hash of the name
 * (64-bit FNV-1a) modulo k, so a group's fold depends on its name alone, not on
 * the manifest's order or on the other groups.
 */
int avf_manifest_fold(const char *group, int k);

/*
 * Runs the pipeline (cfg must carry plugins and a fused layout) on every run of
 * rows (a single row is a run of its own), with `jobs` runs at a time, and appends
 * one labelled fused vector per segment to d, labelled by the row whose
 * [start, end) holds it, in manifest order whatever the thread timing. A run is
 * one stream: the features carry over from one of its rows to the next. A
 * segment whose RMS is below the silence threshold is labelled silence (and gets
 * no sentiment labels): files are labelled whole, but a pause in speech is not
 * speech. Rows that fail (every row of a run that fails) are reported and counted
 * in *failed.
 */
int avf_manifest_extract(const avf_manifest *m, const avf_pipeline_config *cfg, int jobs,
                         avf_dataset *d, int *failed);

#endif
