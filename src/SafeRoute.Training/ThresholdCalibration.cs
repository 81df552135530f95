namespace SafeRoute.Training;

/// <summary>A chosen routing threshold ε (route to the large guard when the score is above ε) and what it gives on the calibration data.</summary>
/// <param name="Threshold">ε.</param>
/// <param name="LargeShare">The share of the calibration rows sent to the large guard at ε.</param>
/// <param name="SafetyF1">The routed system's safety F1 at ε, for F1 calibration; <see langword="null"/> for share calibration.</param>
public sealed record ThresholdCalibration(float Threshold, double LargeShare, double? SafetyF1);
