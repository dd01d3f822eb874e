/*
 * dataset.c - a growable table of labelled fused vectors.
 */
#include "fusion/dataset.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <libavutil/error.h>

void avf_dataset_init(avf_dataset *d, int dim)
{
    memset(d, 0, sizeof(*d));
    d->dim = dim;
}

static int grow(avf_dataset *d, int need)
{
    int cap = d->cap ? d->cap : 256;
    double *x;
    int *content, *valence, *arousal, *row;

    if (need <= d->cap)
        return 0;
    while (cap < need)
        cap *= 2;
    x = realloc(d->x, (size_t)cap * (size_t)d->dim * sizeof(*x));
    if (!x)
        return AVERROR(ENOMEM);
    d->x = x;
    content = realloc(d->content, (size_t)cap * sizeof(*content));
    if (!content)
        return AVERROR(ENOMEM);
    d->content = content;
    valence = realloc(d->valence, (size_t)cap * sizeof(*valence));
    if (!valence)
        return AVERROR(ENOMEM);
    d->valence = valence;
    arousal = realloc(d->arousal, (size_t)cap * sizeof(*arousal));
    if (!arousal)
        return AVERROR(ENOMEM);
    d->arousal = arousal;
    row = realloc(d->row, (size_t)cap * sizeof(*row));
    if (!row)
        return AVERROR(ENOMEM);
    d->row = row;
    d->cap = cap;
    return 0;
}

int avf_dataset_append(avf_dataset *d, const double *x, int content, int valence, int arousal,
                       int row)
{
    int ret = grow(d, d->n + 1);

    if (ret < 0)
        return ret;
    memcpy(d->x + (size_t)d->n * (size_t)d->dim, x, (size_t)d->dim * sizeof(*x));
    d->content[d->n] = content;
    d->valence[d->n] = valence;
    d->arousal[d->n] = arousal;
    d->row[d->n] = row;
    d->n++;
    return 0;
}

int avf_dataset_extend(avf_dataset *d, const avf_dataset *src)
{
    for (int i = 0; i < src->n; i++) {
        int ret = avf_dataset_append(d, src->x + (size_t)i * (size_t)src->dim, src->content[i],
                                     src->valence[i], src->arousal[i], src->row[i]);

        if (ret < 0)
            return ret;
    }
    return 0;
}

void avf_dataset_clear(avf_dataset *d)
{
    int dim = d->dim;

    free(d->x);
    free(d->content);
    free(d->valence);
    free(d->arousal);
    free(d->row);
    avf_dataset_init(d, dim);
}
