#include "services/shared/patient_identity.h"

#include "absl/strings/str_cat.h"
#include "clinical/identity.h"

namespace pathways {

absl::StatusOr<std::string> PatientKeyOf(const referral::v1::PatientIdentifier& patient,
                                         const es::Pseudonymizer& pseudonymizer,
                                         const std::string& field,
                                         referral::v1::PatientIdentifier* normalised) {
  clinical::IdSystem system;
  switch (patient.system()) {
    case referral::v1::PatientIdentifier::NO_FODSELSNUMMER:
      system = clinical::IdSystem::kNoFodselsnummer;
      break;
    case referral::v1::PatientIdentifier::NO_D_NUMBER:
      system = clinical::IdSystem::kNoDNumber;
      break;
    case referral::v1::PatientIdentifier::DK_CPR:
      system = clinical::IdSystem::kDkCpr;
      break;
    default:
      return absl::InvalidArgumentError(
          absl::StrCat(field, ".system: must be NO_FODSELSNUMMER, NO_D_NUMBER or DK_CPR"));
  }
  absl::StatusOr<clinical::NationalId> id = clinical::ValidateNationalId(system, patient.value());
  if (!id.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ".value: ", std::string(id.status().message())));
  }
  if (normalised != nullptr) {
    normalised->set_system(patient.system());
    normalised->set_value(id->digits);
  }
  return pseudonymizer.Key(clinical::FhirSystemOid(system), id->digits);
}

}  // namespace pathways
