# spectral_balance.praat - the reference values of avfuse's alpha ratio, Hammarberg
# index and spectral slopes, measured by Praat on a sound file. Each 10 ms frame that
# "To Pitch" (60-500 Hz) finds voiced is cut out (25 ms, Hanning) and transformed
# ("To Spectrum", fast: zero-padded to a power of two); from its power spectrum:
#   alpha ratio   10 log10(power 50-1000 Hz / power 1-5 kHz)
#   Hammarberg    10 log10(strongest bin 0-2 kHz / strongest bin 2-5 kHz)
#   slopes        least-squares slope of 10 log10(power) per kHz, 0-500, 500-1500 Hz
# (a band takes the bins from its lower edge up to, not including, its upper edge;
# a slope's band includes both edges), averaged over the frames. A band above
# Nyquist gives undefined.
# Usage: praat --run spectral_balance.praat FILE
form spectral_balance
  sentence file
endform
sound = Read from file: file$
rate = Get sampling frequency
pitch = To Pitch: 0.01, 60, 500
n = Get number of frames
sum# = zero# (4)
count# = zero# (4)
for i to n
  selectObject: pitch
  f0 = Get value in frame: i, "Hertz"
  t = Get time from frame number: i
  if f0 <> undefined
    selectObject: sound
    part = Extract part: t - 0.0125, t + 0.0125, "Hanning", 1, "no"
    spectrum = To Spectrum: "yes"
    nb = Get number of bins
    df = Get bin width
    lo_sum = 0
    hi_sum = 0
    lo_max = 0
    hi_max = 0
    sx = 0
    sy = 0
    sxx = 0
    sxy = 0
    m = 0
    tx = 0
    ty = 0
    txx = 0
    txy = 0
    mm = 0
    for k to nb
      f = (k - 1) * df
      p = object [spectrum, 1, k] ^ 2 + object [spectrum, 2, k] ^ 2
      if f >= 50 and f < 1000
        lo_sum += p
      elsif f >= 1000 and f < 5000
        hi_sum += p
      endif
      if f < 2000
        lo_max = max (lo_max, p)
      elsif f < 5000
        hi_max = max (hi_max, p)
      endif
      y = 10 * log10 (p + 1e-30)
      x = f / 1000
      if f <= 500 + 1e-6
        sx += x
        sy += y
        sxx += x * x
        sxy += x * y
        m += 1
      endif
      if f >= 500 - 1e-6 and f <= 1500 + 1e-6
        tx += x
        ty += y
        txx += x * x
        txy += x * y
        mm += 1
      endif
    endfor
    if rate / 2 >= 5000 and lo_sum > 0 and hi_sum > 0
      sum# [1] += 10 * log10 (lo_sum / hi_sum)
      count# [1] += 1
      sum# [2] += 10 * log10 (lo_max / hi_max)
      count# [2] += 1
    endif
    sum# [3] += (m * sxy - sx * sy) / (m * sxx - sx * sx)
    count# [3] += 1
    sum# [4] += (mm * txy - tx * ty) / (mm * txx - tx * tx)
    count# [4] += 1
    removeObject: part, spectrum
  endif
endfor
names$# = {"alpha_ratio_db", "hammarberg_db", "slope_0_500_db_khz", "slope_500_1500_db_khz"}
for k to 4
  if count# [k] > 0
    appendInfoLine: names$# [k], " ", sum# [k] / count# [k]
  else
    appendInfoLine: names$# [k], " undefined"
  endif
endfor
