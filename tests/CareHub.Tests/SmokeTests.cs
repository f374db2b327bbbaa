namespace CareHub.Tests;
public class SmokeTests { [Fact] public void fhir_model_loads() => Assert.NotNull(Hl7.Fhir.Model.ModelInfo.SupportedResources); }
