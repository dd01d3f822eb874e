/*
 * mic.h - a microphone captured through PortAudio, delivered as mono float at the
 * analysis rate with CLOCK_MONOTONIC capture times.
 *
 * PortAudio's callback copies each buffer and its capture time into a lock-free ring
 * and returns; avf_mic_read() takes samples out of the ring on the source thread,
 * converting them there (libswresample) when the device cannot deliver mono at the
 * requested rate. Reads wait on an eventfd, so they honour a deadline and an abort.
 *
 * Lifecycle: avf_mic_open() starts capture at once; one thread calls avf_mic_read();
 * any thread may call avf_mic_abort() and avf_mic_overflows(); avf_mic_free() runs
 * after the reading thread has stopped. Several microphones may be opened and freed
 * concurrently from different threads: PortAudio's process-wide state is set up by
 * the first open and torn down by the last free.
 */
#ifndef AVF_MIC_H
#define AVF_MIC_H

#include <stddef.h>
#include <stdint.h>

typedef struct avf_mic avf_mic;

/*
 * Opens the PortAudio input device `device` and starts capturing mono float at `rate`
 * Hz. `device` is "default" (the default input), else the exact name of an input
 * device, else a unique case-insensitive substring of one, else a decimal PortAudio
 * device index. A device that cannot capture mono at `rate` is captured at what it
 * can (its default rate, 48000 or 44100 Hz; one or two channels) and converted. A
 * device with exactly two input channels is always captured in stereo and downmixed
 * (L+R)/2, because PortAudio would otherwise hand out the left channel alone.
 *
 * On success stores a whole microphone in *pm (the caller frees it with
 * avf_mic_free()) and returns 0. On failure returns a negative error
 * (AVERROR(ENODEV): no such input, AVERROR(EINVAL): ambiguous name or bad argument)
 * and writes one line naming the device and the reason into why (when why_size > 0);
 * *pm is untouched.
 */
int avf_mic_open(avf_mic **pm, const char *device, int rate, char *why, size_t why_size);

/*
 * Waits until samples are available or until timeout_us microseconds after the call
 * started (<= 0: does not wait), then writes up to max mono samples to buf and the
 * CLOCK_MONOTONIC time in microseconds at which buf[0] was captured to *t_mono_us.
 * The samples of one read are contiguous: sample i was captured at
 * *t_mono_us + i * 1e6 / rate. A read ends early rather than span a gap left by an
 * overflow, so the next read's time shows the gap.
 *
 * Returns the number of samples (> 0); AVF_EOS once avf_mic_abort() was called;
 * AVERROR(ETIMEDOUT) when nothing came in time; AVERROR(EIO) when the device failed
 * or disappeared (the stream stopped on its own: close it and reopen later);
 * AVERROR(EINVAL) for bad arguments.
 */
int avf_mic_read(avf_mic *m, float *buf, int max, int64_t timeout_us, int64_t *t_mono_us);

/* Makes the current read and every later one return AVF_EOS. Any thread. */
void avf_mic_abort(avf_mic *m);

/*
 * Capture buffers lost since open: buffers PortAudio flagged as following an input
 * overflow, plus buffers dropped because the ring was full (the reader fell more
 * than two seconds behind). Any thread.
 */
uint64_t avf_mic_overflows(const avf_mic *m);

/* Stops capture and frees the microphone; accepts NULL and a NULL *pm; sets *pm = NULL. */
void avf_mic_free(avf_mic **pm);

#endif
