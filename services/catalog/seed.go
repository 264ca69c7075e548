package catalog

import "github.com/shopspring/decimal"

// SeedTemplates returns the demo catalog the platform starts with.
func SeedTemplates() []Template {
	return []Template{AirConditioner(), CNCFlange()}
}

// AirConditioner is a customised split air conditioner, priced in CNY: a
// capacity between 2.5 and 7.1 kW, efficiency and refrigerant, the look of the
// indoor panel, connectivity, purification, an engraved name, installation,
// warranty and noise. Its rules follow what the product line can build: R32
// units use the A++/A+++ inverter platform, propane (R290) is limited to small
// charges and 220 V markets, 110 V and ultra-quiet units top out below the
// largest capacities.
func AirConditioner() Template {
	return Template{
		ID:             "tmpl_ac_split_v1",
		Code:           "AC-SPLIT",
		Name:           "Custom split air conditioner",
		Description:    "Wall-mounted inverter split air conditioner, configured to order: capacity, efficiency, refrigerant, panel design, connectivity, purification and service options.",
		Version:        1,
		Currency:       "CNY",
		MinQuantity:    1,
		MaxQuantity:    1000,
		BaseLeadDays:   10,
		QuantityLead:   []QuantityLead{{MinQuantity: 50, ExtraDays: 3}, {MinQuantity: 200, ExtraDays: 8}},
		ScrapTolerance: dec("0.02"),
		Groups: []OptionGroup{
			{Code: "capacity", Label: "Cooling capacity", Kind: KindNumber, Required: true,
				Min: dec("2.5"), Max: dec("7.1"), Step: dec("0.1"), Unit: "kW", DefaultNumber: decp("3.5")},
			single("energyClass", "Energy class", true, "A_PP",
				choice("A_PLUS", "A+", 0), choice("A_PP", "A++", 0), choice("A_PPP", "A+++", 3)),
			single("refrigerant", "Refrigerant", true, "R32",
				choice("R32", "R32", 0), choice("R410A", "R410A", 0), choice("R290", "R290 (propane)", 5)),
			single("voltage", "Power supply", true, "V220_50",
				choice("V220_50", "220-240 V / 50 Hz", 0), choice("V110_60", "110-120 V / 60 Hz", 7)),
			single("panelColour", "Panel colour", false, "WHITE",
				choice("WHITE", "Pearl white", 0), choice("CHAMPAGNE", "Champagne gold", 2),
				choice("GRAPHITE", "Graphite grey", 2), choice("ROSE_GOLD", "Rose gold", 4)),
			single("panelFinish", "Panel finish", false, "MATTE",
				choice("MATTE", "Matte", 0), choice("GLOSS", "High gloss", 1),
				choice("BRUSHED", "Brushed aluminium skin", 3), choice("WOOD_GRAIN", "Wood-grain film", 5)),
			single("wifi", "Wi-Fi module", false, "NONE",
				choice("NONE", "None", 0), choice("BASIC", "Wi-Fi with app control", 0),
				choice("SMART_HOME", "Wi-Fi with smart-home (Matter) support", 2)),
			{Code: "filters", Label: "Air purification filters", Kind: KindMulti, MaxSelections: 3,
				Choices: []Choice{
					choice("PM25", "PM2.5 electrostatic filter", 0), choice("HEPA", "HEPA H13 filter", 2),
					choice("UV_C", "UV-C sterilisation lamp", 3), choice("ION", "Negative-ion generator", 0),
					choice("HCHO", "Formaldehyde catalytic filter", 2),
				}},
			{Code: "engraving", Label: "Engraved name", Kind: KindText, MaxLength: 24},
			single("installKit", "Installation kit", false, "PIPE_3M",
				choice("NONE", "No installation kit", 0), choice("PIPE_3M", "3 m pipe kit", 0),
				choice("PIPE_5M", "5 m pipe kit", 0), choice("PIPE_10M", "10 m pipe kit", 2)),
			single("warranty", "Warranty", false, "Y3",
				choice("Y3", "3 years", 0), choice("Y5", "5 years", 0), choice("Y10", "10 years on the compressor", 0)),
			single("noise", "Noise package", false, "STANDARD",
				choice("STANDARD", "Standard (26 dB(A))", 0), choice("QUIET", "Quiet (22 dB(A))", 2),
				choice("ULTRA_QUIET", "Ultra quiet (18 dB(A))", 4)),
		},
		Rules: []Rule{
			{Code: "R32_EFFICIENCY", Kind: RuleRequires, When: when("refrigerant", "R32"), Then: when("energyClass", "A_PP", "A_PPP"),
				Message: "R32 units are built on the high-efficiency inverter platform: choose energy class A++ or A+++"},
			{Code: "R290_CHARGE_LIMIT", Kind: RuleRangeDepends, When: when("refrigerant", "R290"), Then: when("capacity"),
				Min: dec("2.5"), Max: dec("3.5"), Message: "R290 (propane) charge limits cap the capacity at 3.5 kW"},
			{Code: "R290_NOT_110V", Kind: RuleExcludes, When: when("refrigerant", "R290"), Then: when("voltage", "V110_60"),
				Message: "R290 units are certified for 220-240 V markets only"},
			{Code: "V110_CAPACITY", Kind: RuleRangeDepends, When: when("voltage", "V110_60"), Then: when("capacity"),
				Min: dec("2.5"), Max: dec("5.3"), Message: "110 V units are built up to 5.3 kW"},
			{Code: "ULTRA_QUIET_CAPACITY", Kind: RuleRangeDepends, When: when("noise", "ULTRA_QUIET"), Then: when("capacity"),
				Min: dec("2.5"), Max: dec("5.0"), Message: "the ultra-quiet package is available up to 5.0 kW"},
			{Code: "ULTRA_QUIET_EFFICIENCY", Kind: RuleRequires, When: when("noise", "ULTRA_QUIET"), Then: when("energyClass", "A_PPP"),
				Message: "the ultra-quiet package needs the large A+++ heat exchanger"},
			{Code: "UVC_NEEDS_WIFI", Kind: RuleRequires, When: when("filters", "UV_C"), Then: when("wifi", "BASIC", "SMART_HOME"),
				Message: "the UV-C lamp reports lamp life and the door interlock through the app: add a Wi-Fi module"},
			{Code: "NO_ENGRAVING_ON_WOOD", Kind: RuleExcludes, When: when("engraving"), Then: when("panelFinish", "WOOD_GRAIN"),
				Message: "the wood-grain film cannot be laser-engraved"},
			{Code: "WOOD_GRAIN_ON_WHITE", Kind: RuleExcludes, When: when("panelFinish", "WOOD_GRAIN"), Then: when("panelColour", "CHAMPAGNE", "GRAPHITE", "ROSE_GOLD"),
				Message: "the wood-grain film is laminated on the white base panel"},
			{Code: "LONG_WARRANTY_INSTALLED", Kind: RuleRequires, When: when("warranty", "Y10"), Then: when("installKit", "PIPE_3M", "PIPE_5M", "PIPE_10M"),
				Message: "the 10-year warranty needs certified installation with one of our pipe kits"},
		},
		Pricing: Pricing{
			BasePrice: dec("2199.00"),
			Extras: []Surcharge{
				extra("energyClass", "A_PP", "260.00"), extra("energyClass", "A_PPP", "580.00"),
				extra("refrigerant", "R290", "320.00"),
				extra("voltage", "V110_60", "180.00"),
				extra("panelColour", "CHAMPAGNE", "88.00"), extra("panelColour", "GRAPHITE", "88.00"), extra("panelColour", "ROSE_GOLD", "168.00"),
				extra("panelFinish", "GLOSS", "45.00"), extra("panelFinish", "BRUSHED", "138.00"), extra("panelFinish", "WOOD_GRAIN", "199.00"),
				extra("wifi", "BASIC", "99.00"), extra("wifi", "SMART_HOME", "179.00"),
				extra("filters", "PM25", "59.00"), extra("filters", "HEPA", "139.00"), extra("filters", "UV_C", "229.00"),
				extra("filters", "ION", "69.00"), extra("filters", "HCHO", "119.00"),
				{Option: "engraving", Amount: dec("29.90"), Description: "Engraved name"},
				extra("installKit", "PIPE_5M", "120.00"), extra("installKit", "PIPE_10M", "310.00"),
				extra("warranty", "Y5", "299.00"), extra("warranty", "Y10", "799.00"),
				extra("noise", "QUIET", "160.00"), extra("noise", "ULTRA_QUIET", "420.00"),
			},
			NumericRates: []NumericRate{
				{Option: "capacity", Rate: dec("386.45"), Included: dec("2.5"), Description: "Cooling capacity"},
			},
			SetupFees: []Surcharge{
				{Option: "engraving", Amount: dec("200.00"), Description: "Laser-engraving programme set-up"},
				{Option: "panelColour", Choice: "ROSE_GOLD", Amount: dec("600.00"), Description: "Paint-line colour change (rose gold)"},
				{Option: "panelFinish", Choice: "WOOD_GRAIN", Amount: dec("450.00"), Description: "Wood-grain film die set-up"},
			},
			QuantityBreaks: []QuantityBreak{
				{MinQuantity: 10, DiscountPercent: dec("3")},
				{MinQuantity: 50, DiscountPercent: dec("5")},
				{MinQuantity: 200, DiscountPercent: dec("8")},
			},
		},
		BOMRules: []BOMRule{
			bom(always, "IDU-CHASSIS", "Indoor unit chassis with cross-flow fan", "pcs", fixed("1")),
			bom(always, "ODU-CHASSIS", "Outdoor unit chassis with axial fan", "pcs", fixed("1")),
			bom(always, "COMP-ROTARY", "Inverter rotary compressor", "pcs", fixed("1")),
			bom(always, "HX-COIL", "Heat-exchanger coil, aluminium fins on copper tube", "kg", linear("1.8", "capacity", "0.95")),
			// Internal piping grows with the unit; the installation kit adds its length.
			bom(always, "CU-TUBE-9.52", "Copper tube 9.52 mm", "m", linear("0.6", "capacity", "0.12")),
			bom(when("installKit", "PIPE_3M"), "CU-TUBE-9.52", "Copper tube 9.52 mm", "m", fixed("3")),
			bom(when("installKit", "PIPE_5M"), "CU-TUBE-9.52", "Copper tube 9.52 mm", "m", fixed("5")),
			bom(when("installKit", "PIPE_10M"), "CU-TUBE-9.52", "Copper tube 9.52 mm", "m", fixed("10")),
			bom(when("installKit", "PIPE_3M"), "INSUL-SLEEVE", "Pipe insulation sleeve", "m", fixed("3")),
			bom(when("installKit", "PIPE_5M"), "INSUL-SLEEVE", "Pipe insulation sleeve", "m", fixed("5")),
			bom(when("installKit", "PIPE_10M"), "INSUL-SLEEVE", "Pipe insulation sleeve", "m", fixed("10")),
			bom(when("refrigerant", "R32"), "REF-R32", "Refrigerant R32", "kg", linear("0.12", "capacity", "0.21")),
			bom(when("refrigerant", "R410A"), "REF-R410A", "Refrigerant R410A", "kg", linear("0.2", "capacity", "0.26")),
			bom(when("refrigerant", "R290"), "REF-R290", "Refrigerant R290", "kg", linear("0.03", "capacity", "0.085")),
			bom(when("voltage", "V220_50"), "PCB-CTRL-220", "Control board 220-240 V / 50 Hz", "pcs", fixed("1")),
			bom(when("voltage", "V110_60"), "PCB-CTRL-110", "Control board 110-120 V / 60 Hz", "pcs", fixed("1")),
			bom(always, "PANEL-ABS", "Front panel, ABS moulding", "pcs", fixed("1")),
			bom(when("panelColour", "CHAMPAGNE"), "PAINT-CHAMPAGNE", "Metallic paint, champagne gold", "kg", fixed("0.18")),
			bom(when("panelColour", "GRAPHITE"), "PAINT-GRAPHITE", "Metallic paint, graphite grey", "kg", fixed("0.18")),
			bom(when("panelColour", "ROSE_GOLD"), "PAINT-ROSEGOLD", "Metallic paint, rose gold", "kg", fixed("0.2")),
			bom(when("panelFinish", "GLOSS"), "CLEARCOAT-GLOSS", "High-gloss clear coat", "kg", fixed("0.08")),
			bom(when("panelFinish", "BRUSHED"), "ALU-SKIN", "Brushed aluminium panel skin", "pcs", fixed("1")),
			bom(when("panelFinish", "WOOD_GRAIN"), "FILM-WOODGRAIN", "Wood-grain decor film", "m2", fixed("0.42")),
			bom(when("wifi", "BASIC"), "WIFI-MOD-B", "Wi-Fi module", "pcs", fixed("1")),
			bom(when("wifi", "SMART_HOME"), "WIFI-MOD-M", "Wi-Fi module with Matter support", "pcs", fixed("1")),
			bom(when("filters", "PM25"), "FLT-PM25", "PM2.5 electrostatic filter", "pcs", fixed("1")),
			bom(when("filters", "HEPA"), "FLT-HEPA-H13", "HEPA H13 filter", "pcs", fixed("1")),
			bom(when("filters", "UV_C"), "UVC-LAMP-KIT", "UV-C lamp kit with door interlock", "pcs", fixed("1")),
			bom(when("filters", "ION"), "ION-GEN", "Negative-ion generator", "pcs", fixed("1")),
			bom(when("filters", "HCHO"), "FLT-HCHO", "Formaldehyde catalytic filter", "pcs", fixed("1")),
			bom(when("noise", "QUIET"), "ACOUSTIC-FOAM", "Acoustic foam lining", "m2", fixed("0.35")),
			bom(when("noise", "ULTRA_QUIET"), "ACOUSTIC-FOAM", "Acoustic foam lining", "m2", fixed("0.8")),
			bom(when("noise", "ULTRA_QUIET"), "ANTIVIB-MOUNT", "Compressor anti-vibration mount", "pcs", fixed("4")),
			bom(always, "CARTON-SET", "Carton and EPS packing set", "set", fixed("1")),
		},
		RoutingRules: []RoutingRule{
			stage(always, 10, "MOULD", "Panel moulding", WorkCentreInjectionMold, fixed("3.5")),
			stage(when("panelColour", "CHAMPAGNE", "GRAPHITE", "ROSE_GOLD"), 20, "FINISH", "Panel painting and finishing", WorkCentrePaint, fixed("6")),
			stage(when("panelFinish", "GLOSS"), 20, "FINISH", "Panel painting and finishing", WorkCentrePaint, fixed("2.5")),
			stage(when("panelFinish", "BRUSHED"), 20, "FINISH", "Panel painting and finishing", WorkCentrePaint, fixed("4")),
			stage(when("panelFinish", "WOOD_GRAIN"), 20, "FINISH", "Panel painting and finishing", WorkCentrePaint, fixed("5")),
			stage(when("engraving"), 30, "ENGRAVE", "Laser engraving", WorkCentreEngraving, fixed("2.5")),
			stage(always, 40, "BRAZE", "Heat-exchanger brazing", WorkCentreBrazing, linear("5", "capacity", "1.2")),
			stage(always, 50, "ASSEMBLY", "Unit assembly", WorkCentreAssembly, linear("18", "capacity", "1.5")),
			stage(when("filters", "PM25"), 50, "ASSEMBLY", "Unit assembly", WorkCentreAssembly, fixed("1.5")),
			stage(when("filters", "HEPA"), 50, "ASSEMBLY", "Unit assembly", WorkCentreAssembly, fixed("2")),
			stage(when("filters", "UV_C"), 50, "ASSEMBLY", "Unit assembly", WorkCentreAssembly, fixed("4")),
			stage(when("filters", "ION"), 50, "ASSEMBLY", "Unit assembly", WorkCentreAssembly, fixed("1.5")),
			stage(when("filters", "HCHO"), 50, "ASSEMBLY", "Unit assembly", WorkCentreAssembly, fixed("2")),
			stage(when("wifi", "BASIC", "SMART_HOME"), 50, "ASSEMBLY", "Unit assembly", WorkCentreAssembly, fixed("2.5")),
			stage(when("noise", "QUIET"), 50, "ASSEMBLY", "Unit assembly", WorkCentreAssembly, fixed("3")),
			stage(when("noise", "ULTRA_QUIET"), 50, "ASSEMBLY", "Unit assembly", WorkCentreAssembly, fixed("6")),
			stage(always, 60, "CHARGE", "Vacuum, refrigerant charge and leak test", WorkCentreTest, linear("6", "capacity", "0.8")),
			stage(always, 70, "RUN_TEST", "Performance run test", WorkCentreTest, fixed("12")),
			stage(when("noise", "QUIET", "ULTRA_QUIET"), 70, "RUN_TEST", "Performance run test", WorkCentreTest, fixed("8")),
			stage(always, 80, "QA", "Final quality inspection", WorkCentreQA, fixed("4")),
			stage(always, 90, "PACK", "Packing", WorkCentrePacking, fixed("3")),
		},
	}
}

// CNCFlange is a CNC-machined pipe flange to order, priced in USD: standard and
// pressure class, bore, thickness and bolt pattern, material, facing, coatings,
// surface finish, marking, heat treatment, certificate and NDT. Its rules are
// the metallurgist's and the standards': stainless takes no zinc and no
// magnetic-particle test, pressure classes belong to their standard, higher
// classes need thicker flanges and ring-joint facing is for high pressure.
func CNCFlange() Template {
	return Template{
		ID:             "tmpl_flange_cnc_v1",
		Code:           "FLANGE-CNC",
		Name:           "CNC-machined flange",
		Description:    "Forged and CNC-machined pipe flange to ASME B16.5, EN 1092-1 or GB/T 9119, with custom bore, thickness, bolt pattern, coatings and certification.",
		Version:        1,
		Currency:       "USD",
		MinQuantity:    1,
		MaxQuantity:    5000,
		BaseLeadDays:   8,
		QuantityLead:   []QuantityLead{{MinQuantity: 100, ExtraDays: 4}, {MinQuantity: 1000, ExtraDays: 10}},
		ScrapTolerance: dec("0.03"),
		Groups: []OptionGroup{
			single("standard", "Standard", true, "ASME_B16_5",
				choice("ASME_B16_5", "ASME B16.5", 0), choice("EN_1092_1", "EN 1092-1", 0), choice("GB_T_9119", "GB/T 9119", 0)),
			{Code: "nominalDiameter", Label: "Nominal diameter", Kind: KindNumber, Required: true,
				Min: dec("15"), Max: dec("600"), Step: dec("1"), Unit: "mm", DefaultNumber: decp("100")},
			single("pressureClass", "Pressure class", true, "CL150",
				choice("CL150", "Class 150", 0), choice("CL300", "Class 300", 0), choice("CL600", "Class 600", 2),
				choice("PN10", "PN 10", 0), choice("PN16", "PN 16", 0), choice("PN25", "PN 25", 0), choice("PN40", "PN 40", 1)),
			single("material", "Material", true, "CS_A105",
				choice("CS_A105", "Carbon steel ASTM A105", 0), choice("SS_304", "Stainless steel 304/304L", 2),
				choice("SS_316L", "Stainless steel 316/316L", 3), choice("DUPLEX_2205", "Duplex stainless 2205", 10)),
			single("facing", "Facing", false, "RF",
				choice("RF", "Raised face", 0), choice("FF", "Flat face", 0),
				choice("RTJ", "Ring-type joint", 1), choice("TG", "Tongue and groove", 1)),
			{Code: "boltHoles", Label: "Bolt holes", Kind: KindNumber, Required: true,
				Min: dec("4"), Max: dec("32"), Step: dec("4"), Unit: "holes", DefaultNumber: decp("8")},
			{Code: "thickness", Label: "Thickness", Kind: KindNumber, Required: true,
				Min: dec("12"), Max: dec("150"), Step: dec("0.5"), Unit: "mm", DefaultNumber: decp("24")},
			{Code: "coating", Label: "Coating", Kind: KindMulti, MaxSelections: 2,
				Choices: []Choice{
					choice("ZINC", "Hot-dip galvanised", 3), choice("EPOXY", "Fusion-bonded epoxy", 2),
					choice("PTFE", "PTFE (fluoropolymer)", 4), choice("PHOSPHATE", "Zinc phosphate and oil", 1),
				}},
			single("surfaceFinish", "Face surface finish", false, "RA6_3",
				choice("RA12_5", "Ra 12.5 um, as machined", 0), choice("RA6_3", "Ra 6.3 um, serrated (standard)", 0),
				choice("RA3_2", "Ra 3.2 um", 1), choice("RA1_6", "Ra 1.6 um, smooth", 2)),
			{Code: "marking", Label: "Marking (heat number, tag)", Kind: KindText, MaxLength: 40},
			single("heatTreatment", "Heat treatment", false, "NONE",
				choice("NONE", "None", 0), choice("NORMALIZED", "Normalised", 2),
				choice("QT", "Quenched and tempered", 4), choice("SOLUTION_ANNEALED", "Solution annealed", 3)),
			single("certificate", "Inspection certificate", false, "EN10204_2_2",
				choice("EN10204_2_2", "EN 10204 2.2 test report", 0), choice("EN10204_3_1", "EN 10204 3.1 inspection certificate", 1),
				choice("EN10204_3_2", "EN 10204 3.2, third-party witnessed", 7)),
			{Code: "ndt", Label: "Non-destructive testing", Kind: KindMulti,
				Choices: []Choice{
					choice("UT", "Ultrasonic testing", 1), choice("MT", "Magnetic-particle testing", 1),
					choice("PT", "Dye-penetrant testing", 1), choice("PMI", "Positive material identification", 0),
				}},
		},
		Rules: []Rule{
			{Code: "ASME_CLASSES", Kind: RuleRequires, When: when("standard", "ASME_B16_5"), Then: when("pressureClass", "CL150", "CL300", "CL600"),
				Message: "ASME B16.5 flanges are rated in classes 150, 300 or 600"},
			{Code: "PN_CLASSES", Kind: RuleRequires, When: when("standard", "EN_1092_1", "GB_T_9119"), Then: when("pressureClass", "PN10", "PN16", "PN25", "PN40"),
				Message: "EN 1092-1 and GB/T 9119 flanges are rated in PN 10 to PN 40"},
			{Code: "STAINLESS_NO_ZINC", Kind: RuleExcludes, When: when("material", "SS_304", "SS_316L", "DUPLEX_2205"), Then: when("coating", "ZINC", "PHOSPHATE"),
				Message: "zinc on stainless steel embrittles it at welding heat, and phosphating does not take: choose another coating"},
			{Code: "AUSTENITIC_NO_MT", Kind: RuleExcludes, When: when("material", "SS_304", "SS_316L"), Then: when("ndt", "MT"),
				Message: "austenitic stainless is not magnetic: use dye-penetrant testing instead of magnetic particles"},
			{Code: "RTJ_HIGH_PRESSURE", Kind: RuleRequires, When: when("facing", "RTJ"), Then: when("pressureClass", "CL300", "CL600", "PN40"),
				Message: "ring-type joints are made for class 300 and above, or PN 40"},
			{Code: "FF_LOW_PRESSURE", Kind: RuleRequires, When: when("facing", "FF"), Then: when("pressureClass", "CL150", "PN10", "PN16"),
				Message: "flat-face flanges are for low pressure: class 150, PN 10 or PN 16"},
			{Code: "PN40_THICKNESS", Kind: RuleRangeDepends, When: when("pressureClass", "PN40"), Then: when("thickness"),
				Min: dec("24"), Max: dec("150"), Message: "PN 40 flanges are at least 24 mm thick"},
			{Code: "CL600_THICKNESS", Kind: RuleRangeDepends, When: when("pressureClass", "CL600"), Then: when("thickness"),
				Min: dec("30"), Max: dec("150"), Message: "class 600 flanges are at least 30 mm thick"},
			{Code: "CL600_DIAMETER", Kind: RuleRangeDepends, When: when("pressureClass", "CL600"), Then: when("nominalDiameter"),
				Min: dec("15"), Max: dec("400"), Message: "class 600 forgings are made up to 400 mm"},
			{Code: "SOLUTION_ANNEAL_STAINLESS", Kind: RuleRequires, When: when("heatTreatment", "SOLUTION_ANNEALED"), Then: when("material", "SS_304", "SS_316L", "DUPLEX_2205"),
				Message: "solution annealing is for stainless and duplex steels"},
			{Code: "QT_CARBON", Kind: RuleRequires, When: when("heatTreatment", "NORMALIZED", "QT"), Then: when("material", "CS_A105"),
				Message: "normalising and quench-and-temper are for carbon steel"},
			{Code: "WITNESSED_NEEDS_NDT", Kind: RuleRequires, When: when("certificate", "EN10204_3_2"), Then: when("ndt"),
				Message: "a 3.2 certificate is witnessed testing: choose at least one NDT method"},
		},
		Pricing: Pricing{
			BasePrice: dec("42.00"),
			Extras: []Surcharge{
				extra("pressureClass", "CL300", "6.50"), extra("pressureClass", "CL600", "19.00"),
				extra("pressureClass", "PN25", "4.20"), extra("pressureClass", "PN40", "9.80"),
				extra("material", "SS_304", "28.00"), extra("material", "SS_316L", "39.50"), extra("material", "DUPLEX_2205", "96.00"),
				extra("facing", "RTJ", "24.50"), extra("facing", "TG", "15.00"),
				extra("coating", "ZINC", "7.20"), extra("coating", "EPOXY", "9.60"), extra("coating", "PTFE", "26.00"), extra("coating", "PHOSPHATE", "2.80"),
				extra("surfaceFinish", "RA3_2", "6.00"), extra("surfaceFinish", "RA1_6", "14.50"),
				extra("heatTreatment", "NORMALIZED", "4.50"), extra("heatTreatment", "QT", "11.00"), extra("heatTreatment", "SOLUTION_ANNEALED", "9.00"),
				extra("certificate", "EN10204_3_1", "3.50"), extra("certificate", "EN10204_3_2", "6.00"),
				extra("ndt", "UT", "7.50"), extra("ndt", "MT", "4.00"), extra("ndt", "PT", "4.80"), extra("ndt", "PMI", "2.60"),
				{Option: "marking", Amount: dec("0.95"), Description: "Marking"},
			},
			NumericRates: []NumericRate{
				{Option: "nominalDiameter", Rate: dec("0.385"), Included: dec("50"), Description: "Diameter"},
				{Option: "thickness", Rate: dec("1.275"), Included: dec("20"), Description: "Thickness"},
				{Option: "boltHoles", Rate: dec("1.85"), Included: dec("4"), Description: "Bolt holes"},
			},
			SetupFees: []Surcharge{
				{Option: "certificate", Choice: "EN10204_3_2", Amount: dec("480.00"), Description: "Third-party inspector visit"},
				{Option: "marking", Amount: dec("45.00"), Description: "Marking stamp set-up"},
				{Option: "coating", Choice: "PTFE", Amount: dec("150.00"), Description: "PTFE curing oven batch"},
				{Option: "heatTreatment", Choice: "QT", Amount: dec("120.00"), Description: "Quench-and-temper furnace batch"},
			},
			QuantityBreaks: []QuantityBreak{
				{MinQuantity: 25, DiscountPercent: dec("4")},
				{MinQuantity: 100, DiscountPercent: dec("8")},
				{MinQuantity: 500, DiscountPercent: dec("12")},
			},
		},
		BOMRules: []BOMRule{
			// The forged blank's mass follows the diameter; thickness variants are
			// machined from the blank of their diameter class.
			bom(when("material", "CS_A105"), "FORGING-A105", "Forged blank, ASTM A105", "kg", linear("0.9", "nominalDiameter", "0.052")),
			bom(when("material", "SS_304"), "FORGING-F304", "Forged blank, ASTM A182 F304/F304L", "kg", linear("0.9", "nominalDiameter", "0.052")),
			bom(when("material", "SS_316L"), "FORGING-F316L", "Forged blank, ASTM A182 F316/F316L", "kg", linear("0.9", "nominalDiameter", "0.052")),
			bom(when("material", "DUPLEX_2205"), "FORGING-F51", "Forged blank, ASTM A182 F51 (2205)", "kg", linear("0.9", "nominalDiameter", "0.052")),
			bom(when("coating", "ZINC"), "ZINC-SHG", "Special high-grade zinc", "kg", linear("0.04", "nominalDiameter", "0.0009")),
			bom(when("coating", "EPOXY"), "EPOXY-FBE", "Fusion-bonded epoxy powder", "kg", linear("0.01", "nominalDiameter", "0.0004")),
			bom(when("coating", "PTFE"), "PTFE-COAT", "PTFE coating dispersion", "l", linear("0.005", "nominalDiameter", "0.0002")),
			bom(when("coating", "PHOSPHATE"), "PHOSPHATE-BATH", "Zinc phosphate bath make-up", "l", fixed("0.02")),
			bom(always, "RUST-OIL", "Rust-preventive oil", "l", fixed("0.01")),
			bom(always, "VCI-BAG", "VCI protective bag", "pcs", fixed("1")),
			// One tag identifies the flange; a 3.x certificate adds a traceability tag.
			bom(always, "TAG-SS", "Stainless identification tag", "pcs", fixed("1")),
			bom(when("certificate", "EN10204_3_1", "EN10204_3_2"), "TAG-SS", "Stainless identification tag", "pcs", fixed("1")),
		},
		RoutingRules: []RoutingRule{
			stage(always, 10, "SAW", "Blank cutting", WorkCentreCutting, linear("2", "nominalDiameter", "0.01")),
			stage(when("heatTreatment", "NORMALIZED"), 20, "HEAT", "Heat treatment", WorkCentreHeatTreat, fixed("6")),
			stage(when("heatTreatment", "QT"), 20, "HEAT", "Heat treatment", WorkCentreHeatTreat, fixed("9")),
			stage(when("heatTreatment", "SOLUTION_ANNEALED"), 20, "HEAT", "Heat treatment", WorkCentreHeatTreat, fixed("7")),
			stage(always, 30, "TURN", "CNC turning: bore, outside diameter, face", WorkCentreCNCLathe, linear("6", "nominalDiameter", "0.055")),
			stage(when("facing", "RTJ"), 30, "TURN", "CNC turning: bore, outside diameter, face", WorkCentreCNCLathe, fixed("5")),
			stage(when("facing", "TG"), 30, "TURN", "CNC turning: bore, outside diameter, face", WorkCentreCNCLathe, fixed("4")),
			stage(always, 40, "DRILL", "Bolt-hole drilling", WorkCentreDrilling, linear("0.5", "boltHoles", "0.9")),
			stage(when("surfaceFinish", "RA3_2"), 50, "FACE_FINISH", "Face finishing", WorkCentreCNCLathe, fixed("3")),
			stage(when("surfaceFinish", "RA1_6"), 50, "FACE_FINISH", "Face finishing", WorkCentreCNCLathe, fixed("7")),
			stage(when("coating", "ZINC"), 60, "COAT", "Coating", WorkCentreCoating, fixed("8")),
			stage(when("coating", "EPOXY"), 60, "COAT", "Coating", WorkCentreCoating, fixed("6")),
			stage(when("coating", "PTFE"), 60, "COAT", "Coating", WorkCentreCoating, fixed("10")),
			stage(when("coating", "PHOSPHATE"), 60, "COAT", "Coating", WorkCentreCoating, fixed("4")),
			stage(when("marking"), 70, "MARK", "Marking", WorkCentreEngraving, fixed("1")),
			stage(when("ndt", "UT"), 80, "NDT", "Non-destructive testing", WorkCentreQA, fixed("6")),
			stage(when("ndt", "MT"), 80, "NDT", "Non-destructive testing", WorkCentreQA, fixed("4")),
			stage(when("ndt", "PT"), 80, "NDT", "Non-destructive testing", WorkCentreQA, fixed("5")),
			stage(when("ndt", "PMI"), 80, "NDT", "Non-destructive testing", WorkCentreQA, fixed("1.5")),
			stage(always, 90, "INSPECT", "Final inspection", WorkCentreQA, fixed("3")),
			stage(when("certificate", "EN10204_3_1"), 90, "INSPECT", "Final inspection", WorkCentreQA, fixed("2")),
			stage(when("certificate", "EN10204_3_2"), 90, "INSPECT", "Final inspection", WorkCentreQA, fixed("10")),
			stage(always, 100, "PACK", "Packing", WorkCentrePacking, fixed("1.5")),
		},
	}
}

// The helpers below keep the seed templates readable as data.

// always is the condition of BOM and routing rules that apply to every unit.
var always = Condition{}

// dec parses a decimal literal of the seed data. The literals are constants
// covered by the tests, so a malformed one fails them rather than production.
func dec(s string) decimal.Decimal { return decimal.RequireFromString(s) }

func decp(s string) *decimal.Decimal {
	d := dec(s)
	return &d
}

func choice(code, label string, leadDays int) Choice {
	return Choice{Code: code, Label: label, LeadDays: leadDays}
}

func single(code, label string, required bool, def string, choices ...Choice) OptionGroup {
	return OptionGroup{Code: code, Label: label, Kind: KindSingle, Required: required, Default: def, Choices: choices}
}

func when(option string, choices ...string) Condition {
	return Condition{Option: option, Choices: choices}
}

func extra(option, choice, amount string) Surcharge {
	return Surcharge{Option: option, Choice: choice, Amount: dec(amount)}
}

func fixed(base string) Expr { return Expr{Base: dec(base)} }

func linear(base, option, per string) Expr {
	return Expr{Base: dec(base), Option: option, Per: dec(per)}
}

func bom(c Condition, material, description, unit string, perUnit Expr) BOMRule {
	return BOMRule{When: c, Material: material, Description: description, Unit: unit, PerUnit: perUnit}
}

func stage(c Condition, seq int, code, name string, kind WorkCentreKind, minutes Expr) RoutingRule {
	return RoutingRule{When: c, Seq: seq, Code: code, Name: name, WorkCentreKind: kind, Minutes: minutes}
}
