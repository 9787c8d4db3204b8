import Plan

/// Where AzureML puts things in a scoring or training image, and the variables that point at them.
/// Every AzureML path and variable name lives here.
public enum AzureMLLayout {
    /// The app root: scoring code goes under it (`AML_APP_ROOT`).
    public static let appRoot = "/var/azureml-app"
    /// Registered models: `<modelsRoot>/NAME/VERSION/`.
    public static let modelsRoot = "\(appRoot)/azureml-models"
    /// The conda environment's prefix, `{hash}` being the environment definition's hash.
    public static let environmentPrefixTemplate = "/azureml-envs/azureml_{hash}"

    /// The variable set to `appRoot`.
    public static let appRootVariable = "AML_APP_ROOT"
    /// The variable naming the entry script, relative to `appRoot`.
    public static let entryScriptVariable = "AZUREML_ENTRY_SCRIPT"
    /// The variable naming the model's directory, or `modelsRoot` when there are several models.
    public static let modelDirectoryVariable = "AZUREML_MODEL_DIR"
    /// The variable set to the conda environment's prefix.
    public static let environmentPathVariable = "AZUREML_CONDA_ENVIRONMENT_PATH"

    /// An environment plan with AzureML's prefix rule and variable.
    public static func environment(_ plan: EnvironmentPlan = EnvironmentPlan()) -> EnvironmentPlan {
        var plan = plan
        plan.prefixTemplate = environmentPrefixTemplate
        plan.prefixVariable = environmentPathVariable
        return plan
    }

    /// Points `AZUREML_MODEL_DIR` at the folder that holds all models when there are several, as AzureML does.
    public static func finishModels(_ count: Int, in plan: inout BuildPlan) {
        if count > 1 { plan.config.setEnv(modelDirectoryVariable, modelsRoot) }
    }
}
