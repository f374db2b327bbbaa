namespace CareHub;
internal static class Placeholder { }
