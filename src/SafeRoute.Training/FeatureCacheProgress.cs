namespace SafeRoute.Training;

/// <summary>Progress of <see cref="FeatureCache.Add"/>, reported after each batch is written.</summary>
/// <param name="Added">Rows computed and written by this call so far.</param>
/// <param name="Skipped">Rows skipped by this call so far because they were already cached.</param>
/// <param name="Total">The number of rows given to the call, when the input is a collection; otherwise <see langword="null"/>.</param>
/// <param name="CachedRows">Rows in the cache file now.</param>
public readonly record struct FeatureCacheProgress(int Added, int Skipped, int? Total, int CachedRows);
