/*
 * dataset.c - a growable table of labelled fused vectors.
 */
#include "fusion/dataset.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <libavutil/error.h>

int avf_content_single(int mask)
{
    if (mask <= 0 || (mask & (mask - 1)))
        return -1;
    for (int c = 0;; c++)
        if (mask == 1 << c)
            return c;
}

int avf_content_has(int mask, int c)
{
    return (mask >> c) & 1;
}

void avf_dataset_init(avf_dataset *d, int dim)
{
    memset(d, 0, sizeof(*d));
    d->dim = dim;
}

/* Grows *p to cap elements of size bytes; 0 or AVERROR(ENOMEM) (then *p is kept). */
static int grow_array(void **p, int cap, size_t size)
{
    void *q = realloc(*p, (size_t)cap * size);

    if (!q)
        return AVERROR(ENOMEM);
    *p = q;
    return 0;
}

static int grow(avf_dataset *d, int need)
{
    int cap = d->cap ? d->cap : 256;

    if (need <= d->cap)
        return 0;
    while (cap < need)
        cap *= 2;
    if (grow_array((void **)&d->x, cap, (size_t)d->dim * sizeof(*d->x)) < 0 ||
        grow_array((void **)&d->content, cap, sizeof(*d->content)) < 0 ||
        grow_array((void **)&d->valence, cap, sizeof(*d->valence)) < 0 ||
        grow_array((void **)&d->arousal, cap, sizeof(*d->arousal)) < 0 ||
        grow_array((void **)&d->row, cap, sizeof(*d->row)) < 0 ||
        grow_array((void **)&d->group, cap, sizeof(*d->group)) < 0 ||
        grow_array((void **)&d->run, cap, sizeof(*d->run)) < 0 ||
        grow_array((void **)&d->t0, cap, sizeof(*d->t0)) < 0 ||
        grow_array((void **)&d->t1, cap, sizeof(*d->t1)) < 0)
        return AVERROR(ENOMEM);
    d->cap = cap;
    return 0;
}

int avf_dataset_append(avf_dataset *d, const double *x, const avf_dataset_label *label)
{
    int ret = grow(d, d->n + 1);

    if (ret < 0)
        return ret;
    memcpy(d->x + (size_t)d->n * (size_t)d->dim, x, (size_t)d->dim * sizeof(*x));
    d->content[d->n] = label->content;
    d->valence[d->n] = label->valence;
    d->arousal[d->n] = label->arousal;
    d->row[d->n] = label->row;
    d->group[d->n] = label->group;
    d->run[d->n] = label->run;
    d->t0[d->n] = label->t0;
    d->t1[d->n] = label->t1;
    d->n++;
    return 0;
}

void avf_dataset_label_of(const avf_dataset *d, int i, avf_dataset_label *label)
{
    *label = (avf_dataset_label){d->content[i], d->valence[i], d->arousal[i], d->row[i],
                                 d->group[i],   d->run[i],     d->t0[i],      d->t1[i]};
}

int avf_dataset_extend(avf_dataset *d, const avf_dataset *src)
{
    for (int i = 0; i < src->n; i++) {
        avf_dataset_label label;
        int ret;

        avf_dataset_label_of(src, i, &label);
        ret = avf_dataset_append(d, src->x + (size_t)i * (size_t)src->dim, &label);
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
    free(d->group);
    free(d->run);
    free(d->t0);
    free(d->t1);
    avf_dataset_init(d, dim);
}
