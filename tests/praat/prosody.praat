# prosody.praat - the reference values of avfuse's F0 and timing features, measured by
# Praat on a sound file: F0 in semitones above 27.5 Hz (mean, standard deviation,
# 20th/50th/80th percentiles and their range) over voiced 10 ms frames, rising and
# falling slopes, voiced and unvoiced run lengths, and loudness peaks per second.
# The definitions are avfuse's (docs/features-audio.md); only the analyses under them
# are Praat's: "To Pitch" (autocorrelation, 60-500 Hz, 10 ms) and "To Intensity".
# Usage: praat --run prosody.praat FILE SMOOTH
# SMOOTH (odd, frames): the slopes read the semitone contour averaged over this many
# frames centred on each (all voiced); 1 reads it as it is. avfuse's YIN frame spans
# 45 ms, so its contour is as smooth as Praat's averaged over 5 frames.
# Prints one "name value" line per feature, "undefined" where there is none.
form prosody
  sentence file
  natural smooth 1
endform
sound = Read from file: file$
pitch = To Pitch: 0.01, 60, 500
n = Get number of frames
st# = zero# (n)
voiced# = zero# (n)
nv = 0
for i to n
  f = Get value in frame: i, "Hertz"
  if f <> undefined
    voiced# [i] = 1
    st# [i] = 12 * log2 (f / 27.5)
    nv += 1
  endif
endfor

# mean, population standard deviation and linear-interpolation percentiles
values# = zero# (nv)
k = 0
for i to n
  if voiced# [i]
    k += 1
    values# [k] = st# [i]
  endif
endfor
procedure quantile: .q
  .pos = .q * (nv - 1)
  .i = floor (.pos)
  if .i + 1 < nv
    .value = sorted# [.i + 1] + (.pos - .i) * (sorted# [.i + 2] - sorted# [.i + 1])
  else
    .value = sorted# [nv]
  endif
endproc
if nv > 0
  sorted# = sort# (values#)
  mean = sum (values#) / nv
  std = sqrt (max (sum (values# * values#) / nv - mean * mean, 0))
  @quantile: 0.2
  p20 = quantile.value
  @quantile: 0.5
  p50 = quantile.value
  @quantile: 0.8
  p80 = quantile.value
else
  mean = undefined
  std = undefined
  p20 = undefined
  p50 = undefined
  p80 = undefined
endif
appendInfoLine: "f0_st ", mean
appendInfoLine: "f0_st_std ", std
appendInfoLine: "f0_st_p20 ", p20
appendInfoLine: "f0_st_p50 ", p50
appendInfoLine: "f0_st_p80 ", p80
appendInfoLine: "f0_st_range ", p80 - p20

# slopes over four consecutive voiced frames (30 ms): (st[i] - st[i-3]) / 0.03
procedure stats: .sum, .sum2, .count, .name$
  if .count > 0
    .m = .sum / .count
    appendInfoLine: .name$, " ", .m
    appendInfoLine: .name$, "_std ", sqrt (max (.sum2 / .count - .m * .m, 0))
  else
    appendInfoLine: .name$, " undefined"
    appendInfoLine: .name$, "_std undefined"
  endif
endproc
rs = 0
rs2 = 0
rn = 0
fs = 0
fs2 = 0
fn = 0
h = (smooth - 1) / 2
sm# = zero# (n)
ok# = zero# (n)
for i from 1 + h to n - h
  ok# [i] = 1
  for j from i - h to i + h
    if not voiced# [j]
      ok# [i] = 0
    else
      sm# [i] += st# [j] / smooth
    endif
  endfor
endfor
# a step faster than 300 semitones/s between frames is a pitch error, not a slope
for i from 4 to n
  if ok# [i] and ok# [i - 1] and ok# [i - 2] and ok# [i - 3]
    jump = 0
    for j from i - 2 to i
      if abs (sm# [j] - sm# [j - 1]) > 3
        jump = 1
      endif
    endfor
    s = (sm# [i] - sm# [i - 3]) / 0.03
    if jump
      s = 0
    endif
    if s > 0
      rs += s
      rs2 += s * s
      rn += 1
    elsif s < 0
      fs -= s
      fs2 += s * s
      fn += 1
    endif
  endif
endfor
@stats: rs, rs2, rn, "f0_rise_st_s"
@stats: fs, fs2, fn, "f0_fall_st_s"

# runs: a run ends when two frames of the other kind follow it (a lone frame of
# the other kind is a blip and counts in the run); a run still open at the end of
# the file is not counted
vs = 0
vs2 = 0
vn = 0
us = 0
us2 = 0
un = 0
state = voiced# [1]
len = 1
pending = 0
for i from 2 to n
  if voiced# [i] = state
    len += pending + 1
    pending = 0
  else
    pending += 1
    if pending >= 2
      d = len * 0.01
      if state
        vs += d
        vs2 += d * d
        vn += 1
      else
        us += d
        us2 += d * d
        un += 1
      endif
      state = voiced# [i]
      len = pending
      pending = 0
    endif
  endif
endfor
@stats: vs, vs2, vn, "voiced_run_s"
@stats: us, us2, un, "unvoiced_run_s"

# loudness peaks: the intensity contour (dB; 93.98 dB is 0 dBFS) averaged over the
# last 3 frames; a peak rises 3 dB above the last low, falls 3 dB below its high,
# and tops -60 dBFS
selectObject: sound
duration = Get total duration
intensity = To Intensity: 100, 0.01, "no"
m = Get number of frames
peaks = 0
rising = 0
for i to m
  level = 0
  c = 0
  for j from max (1, i - 2) to i
    level += Get value in frame: j
    c += 1
  endfor
  level = level / c - 93.98
  if i = 1
    low = level
    high = level
  elsif not rising
    low = min (low, level)
    if level >= low + 3
      rising = 1
      high = level
    endif
  else
    high = max (high, level)
    if level <= high - 3
      if high > -60
        peaks += 1
      endif
      rising = 0
      low = level
    endif
  endif
endfor
appendInfoLine: "loudness_peaks_per_s ", peaks / duration
