# formants.praat - the reference values of avfuse's F1-F3 and their bandwidths,
# measured by Praat on a sound file: "To Formant (burg)" (10 ms, 5 formants up to the
# given ceiling, 25 ms window, pre-emphasis from 50 Hz), averaged over the 10 ms
# frames that "To Pitch" (60-500 Hz) finds voiced, as avfuse averages its voiced
# windows.
# Usage: praat --run formants.praat FILE [CEILING_HZ]   (default 5500)
# Prints one "name value" line per feature, "undefined" where there is none.
form formants
  sentence file
  real ceiling 5500
endform
sound = Read from file: file$
pitch = To Pitch: 0.01, 60, 500
n = Get number of frames
selectObject: sound
formant = To Formant (burg): 0.01, 5, ceiling, 0.025, 50
sum# = zero# (6)
count# = zero# (6)
for i to n
  selectObject: pitch
  f0 = Get value in frame: i, "Hertz"
  t = Get time from frame number: i
  if f0 <> undefined
    selectObject: formant
    for k to 3
      v = Get value at time: k, t, "hertz", "linear"
      b = Get bandwidth at time: k, t, "hertz", "linear"
      if v <> undefined
        sum# [k] += v
        count# [k] += 1
      endif
      if b <> undefined
        sum# [k + 3] += b
        count# [k + 3] += 1
      endif
    endfor
  endif
endfor
for k to 3
  if count# [k] > 0
    appendInfoLine: "f", k, "_hz ", sum# [k] / count# [k]
  else
    appendInfoLine: "f", k, "_hz undefined"
  endif
endfor
for k to 3
  if count# [k + 3] > 0
    appendInfoLine: "f", k, "_bw_hz ", sum# [k + 3] / count# [k + 3]
  else
    appendInfoLine: "f", k, "_bw_hz undefined"
  endif
endfor
