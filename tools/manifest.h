/*
 * manifest.h - the training/evaluation manifest: a CSV with the header
 * file,start,end,content,valence,arousal; paths relative to the manifest's folder.
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
    int content;  /* avf_content or -1 */
    int valence;  /* 0..2 or -1 */
    int arousal;  /* 0..2 or -1 */
} avf_manifest_row;

typedef struct avf_manifest {
    avf_manifest_row *rows;
    int n;
} avf_manifest;

/*
 * Reads a manifest. On failure returns a negative error and writes
 * "FILE:LINE: what" into why. The caller frees m with avf_manifest_clear().
 */
int avf_manifest_load(avf_manifest *m, const char *path, char *why, size_t why_size);
void avf_manifest_clear(avf_manifest *m);

/*
 * Runs the pipeline (cfg must carry plugins and a fused layout) on every row, with
 * `jobs` rows at a time, and appends one labelled fused vector per segment inside
 * the row's [start, end) to d, in manifest order whatever the thread timing. A
 * segment whose RMS is below the silence threshold is labelled silence (and gets
 * no sentiment labels): files are labelled whole, but a pause in speech is not
 * speech. Rows that fail are reported and counted in *failed.
 */
int avf_manifest_extract(const avf_manifest *m, const avf_pipeline_config *cfg, int jobs,
                         avf_dataset *d, int *failed);

#endif
