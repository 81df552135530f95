namespace SafeRoute.Training;

/// <summary>What reading a data set does with a row whose id an earlier row already has (public sets often repeat rows).</summary>
public enum DuplicateIdHandling
{
    /// <summary>Fail: after reading everything, a <see cref="DatasetFormatException"/> names the first repeat and counts all of them.</summary>
    Error = 0,

    /// <summary>Keep the first row with an id and drop later ones.</summary>
    Skip = 1,

    /// <summary>Keep every row; a repeat gets the first free id of the form <c>id~2</c>, <c>id~3</c>, ….</summary>
    Rename = 2,
}
