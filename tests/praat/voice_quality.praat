# voice_quality.praat - the reference values of avfuse's jitter, shimmer and HNR,
# measured by Praat on a sound file: glottal pulses by "To PointProcess (periodic,
# cc)" (60-500 Hz), then Praat's local jitter and local shimmer in dB (periods
# 0.1-20 ms, period factor 1.3, amplitude factor 1.6), and the mean of "To
# Harmonicity (cc)" (10 ms, 60 Hz, silence threshold 0.1, 1 period per window).
# Usage: praat --run voice_quality.praat FILE
# Prints one "name value" line per feature, "undefined" where there is none.
form voice_quality
  sentence file
endform
sound = Read from file: file$
pulses = To PointProcess (periodic, cc): 60, 500
jitter = Get jitter (local): 0, 0, 0.0001, 0.02, 1.3
selectObject: sound, pulses
shimmer = Get shimmer (local_dB): 0, 0, 0.0001, 0.02, 1.3, 1.6
selectObject: sound
harmonicity = To Harmonicity (cc): 0.01, 60, 0.1, 1.0
hnr = Get mean: 0, 0
appendInfoLine: "jitter ", jitter
appendInfoLine: "shimmer_db ", shimmer
appendInfoLine: "hnr_db ", hnr
