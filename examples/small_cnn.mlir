builtin.module attributes {nn.weights = "small_cnn.npz"} {
  func.func @main(%image: tensor<1x3x32x32xf32> {nn.name = "image"}) -> (tensor<1x10xf32> {nn.name = "probabilities"}) {
    %stem_w = nn.weight "stem.w" : tensor<16x3x3x3xf32>
    %stem = nn.conv2d %image, %stem_w strides [1, 1] pads [1, 1, 1, 1] dilations [1, 1] groups 1 {nn.name = "stem"} : (tensor<1x3x32x32xf32>, tensor<16x3x3x3xf32>) -> tensor<1x16x32x32xf32>
    %stem_bn_scale = nn.constant dense<[1.18873501, 1.06846035, 1.01248646, 1.1364702, 0.994608164, 0.990377963, 0.903309762, 0.862454176, 1.08464825, 1.13764441, 1.07111955, 0.947528601, 1.03028882, 1.025365, 1.17462647, 0.955069661]> : tensor<16xf32>
    %stem_bn_bias = nn.constant dense<[0.0562982596, -0.00177422364, 0.0301635228, 0.0426104777, 0.0844243914, -0.0101608895, -0.0349799208, -0.0828315616, -0.089173235, 0.117245123, -0.00845214911, 0.0786944404, -0.129736379, -0.193816811, -0.104909122, 0.114662699]> : tensor<16xf32>
    %stem_bn_mean = nn.constant dense<[0.106807746, 0.0332038626, -0.0802170187, -0.0130802644, -0.0297760479, -0.0344973356, -0.250606984, -0.0857926384, -0.0190108884, 0.151642784, 0.0160743054, 0.140088826, -0.0393706895, -0.0252688583, -0.389942169, 0.0463330336]> : tensor<16xf32>
    %stem_bn_var = nn.constant dense<[1.04574883, 1.11234176, 1.11079848, 8.828380e-01, 1.06577396, 1.48576963, 0.92802453, 1.34301472, 0.581323683, 1.37522829, 1.44170618, 7.618640e-01, 0.512101412, 0.983008385, 0.682712257, 1.47163129]> : tensor<16xf32>
    %stem_bn = nn.batch_norm %stem, %stem_bn_scale, %stem_bn_bias, %stem_bn_mean, %stem_bn_var epsilon 1.000000e-05 {nn.name = "stem_bn"} : (tensor<1x16x32x32xf32>, tensor<16xf32>, tensor<16xf32>, tensor<16xf32>, tensor<16xf32>) -> tensor<1x16x32x32xf32>
    %stem_relu = nn.relu %stem_bn {nn.name = "stem_relu"} : tensor<1x16x32x32xf32>
    %pool = nn.max_pool2d %stem_relu kernel [2, 2] strides [2, 2] pads [0, 0, 0, 0] dilations [1, 1] {nn.name = "pool"} : (tensor<1x16x32x32xf32>) -> tensor<1x16x16x16xf32>
    %res_a_w = nn.weight "res.a.w" : tensor<16x16x3x3xf32>
    %res_a = nn.conv2d %pool, %res_a_w strides [1, 1] pads [1, 1, 1, 1] dilations [1, 1] groups 1 {nn.name = "res.a"} : (tensor<1x16x16x16xf32>, tensor<16x16x3x3xf32>) -> tensor<1x16x16x16xf32>
    %res_a_bn_scale = nn.constant dense<[0.986681521, 1.14202881, 0.823179603, 1.1350708, 1.1125083, 1.18840861, 0.91566056, 1.03675842, 1.15738177, 0.809235036, 1.12928593, 1.12627757, 1.0602597, 1.03129232, 1.18277442, 0.958126366]> : tensor<16xf32>
    %res_a_bn_bias = nn.constant dense<[0.0214207713, 0.0560722388, 0.00510386564, -0.0455081612, -0.155908361, 0.0942128152, -0.0507619306, 0.0400732607, -0.106510743, 0.151422188, 0.0691555366, -0.0888652727, 0.034806516, 0.134273574, -0.0176620893, -0.170130134]> : tensor<16xf32>
    %res_a_bn_mean = nn.constant dense<[0.0456813313, 0.184740931, -0.159722969, 0.102482662, -0.0232855547, -0.00911674742, 0.019173488, 0.00123192056, 0.0862787813, -0.116456665, -8.603980e-03, -0.0935585424, -0.051071208, 0.297257423, -0.0845953375, 4.488550e-02]> : tensor<16xf32>
    %res_a_bn_var = nn.constant dense<[0.914800167, 0.985204101, 1.24549329, 1.36155629, 0.89360404, 1.33711648, 1.31233394, 0.618622899, 1.1688379, 1.32377505, 1.33704412, 0.918155253, 0.715517104, 0.670791745, 1.35258234, 0.833522916]> : tensor<16xf32>
    %res_a_bn = nn.batch_norm %res_a, %res_a_bn_scale, %res_a_bn_bias, %res_a_bn_mean, %res_a_bn_var epsilon 1.000000e-05 {nn.name = "res.a_bn"} : (tensor<1x16x16x16xf32>, tensor<16xf32>, tensor<16xf32>, tensor<16xf32>, tensor<16xf32>) -> tensor<1x16x16x16xf32>
    %res_a_relu = nn.relu %res_a_bn {nn.name = "res.a_relu"} : tensor<1x16x16x16xf32>
    %res_b_w = nn.weight "res.b.w" : tensor<16x16x3x3xf32>
    %res_b = nn.conv2d %res_a_relu, %res_b_w strides [1, 1] pads [1, 1, 1, 1] dilations [1, 1] groups 1 {nn.name = "res.b"} : (tensor<1x16x16x16xf32>, tensor<16x16x3x3xf32>) -> tensor<1x16x16x16xf32>
    %res_b_bn_scale = nn.constant dense<[1.12782073, 0.938835382, 1.13688183, 1.19646192, 9.555210e-01, 1.11902368, 1.12946141, 0.987715662, 1.11789215, 0.821992517, 0.839970231, 0.814566195, 1.14380836, 9.582120e-01, 1.09357846, 0.918352842]> : tensor<16xf32>
    %res_b_bn_bias = nn.constant dense<[0.121022277, -0.0610777959, -0.0827104673, -0.0416357331, -0.0906057283, 0.19645527, -0.0283545572, 0.101656966, 0.0322205275, -5.621570e-02, 0.101638891, 0.0573676229, 0.0379927643, -0.00153933128, 0.027585255, 0.0564329289]> : tensor<16xf32>
    %res_b_bn_mean = nn.constant dense<[0.173352391, -0.0276087336, -0.0450093746, -0.114499539, -1.183180e-02, 0.0357549153, 0.180205151, -0.109419525, -0.208083034, -0.0541027226, -0.0266891494, -7.239900e-02, 0.227789149, -2.866510e-01, -0.112253875, -0.053921897]> : tensor<16xf32>
    %res_b_bn_var = nn.constant dense<[0.95982343, 0.604643166, 1.25998151, 1.40639424, 0.909187198, 0.823640227, 0.625225782, 0.93321377, 1.47624278, 1.09637129, 0.943420589, 0.503365159, 1.00013459, 0.798573375, 7.164680e-01, 0.841348588]> : tensor<16xf32>
    %res_b_bn = nn.batch_norm %res_b, %res_b_bn_scale, %res_b_bn_bias, %res_b_bn_mean, %res_b_bn_var epsilon 1.000000e-05 {nn.name = "res.b_bn"} : (tensor<1x16x16x16xf32>, tensor<16xf32>, tensor<16xf32>, tensor<16xf32>, tensor<16xf32>) -> tensor<1x16x16x16xf32>
    %res_add = nn.add %pool, %res_b_bn {nn.name = "res_add"} : (tensor<1x16x16x16xf32>, tensor<1x16x16x16xf32>) -> tensor<1x16x16x16xf32>
    %res_out = nn.relu %res_add {nn.name = "res_out"} : tensor<1x16x16x16xf32>
    %dw_w = nn.weight "dw.w" : tensor<16x1x3x3xf32>
    %dw = nn.conv2d %res_out, %dw_w strides [2, 2] pads [1, 1, 1, 1] dilations [1, 1] groups 16 {nn.name = "dw"} : (tensor<1x16x16x16xf32>, tensor<16x1x3x3xf32>) -> tensor<1x16x8x8xf32>
    %dw_bn_scale = nn.constant dense<[0.86890775, 1.00424802, 0.947844267, 0.927660823, 0.81046623, 0.882452905, 0.908926427, 1.0022887, 1.09137154, 1.17767167, 1.00764692, 0.940913677, 0.932684302, 0.801575959, 1.06720114, 0.994264901]> : tensor<16xf32>
    %dw_bn_bias = nn.constant dense<[0.0891257674, 0.0314582027, -0.290713489, -0.00548176095, -0.00741034374, -0.01067058, 0.0623012483, 0.0249459036, -0.0242325738, -0.146238551, 0.0676311627, -0.025031805, 0.0161194969, 0.116011262, 8.505070e-02, 0.0190543476]> : tensor<16xf32>
    %dw_bn_mean = nn.constant dense<[-0.0896495879, -0.0848687291, -0.129927561, -0.0554850623, 0.177809447, -0.00957409199, -0.00312668667, 0.00682948623, 0.0576616861, 0.11905808, -0.02089829, 0.0805855617, 0.310410798, -0.251507312, -0.0305221472, -0.00727626448]> : tensor<16xf32>
    %dw_bn_var = nn.constant dense<[0.629377425, 1.26233768, 1.4072032, 1.49340367, 1.14717913, 0.640847623, 1.26843572, 1.31396806, 0.786266088, 0.829432368, 1.21915209, 1.26208735, 0.684724033, 0.607173681, 1.1913693, 0.794983566]> : tensor<16xf32>
    %dw_bn = nn.batch_norm %dw, %dw_bn_scale, %dw_bn_bias, %dw_bn_mean, %dw_bn_var epsilon 1.000000e-05 {nn.name = "dw_bn"} : (tensor<1x16x8x8xf32>, tensor<16xf32>, tensor<16xf32>, tensor<16xf32>, tensor<16xf32>) -> tensor<1x16x8x8xf32>
    %dw_relu6 = nn.clip %dw_bn min 0.000000e+00 max 6.000000e+00 {nn.name = "dw_relu6"} : tensor<1x16x8x8xf32>
    %pw_w = nn.weight "pw.w" : tensor<32x16x1x1xf32>
    %pw = nn.conv2d %dw_relu6, %pw_w strides [1, 1] pads [0, 0, 0, 0] dilations [1, 1] groups 1 {nn.name = "pw"} : (tensor<1x16x8x8xf32>, tensor<32x16x1x1xf32>) -> tensor<1x32x8x8xf32>
    %pw_bn_scale = nn.weight "pw.bn.scale" : tensor<32xf32>
    %pw_bn_bias = nn.weight "pw.bn.bias" : tensor<32xf32>
    %pw_bn_mean = nn.weight "pw.bn.mean" : tensor<32xf32>
    %pw_bn_var = nn.weight "pw.bn.var" : tensor<32xf32>
    %pw_bn = nn.batch_norm %pw, %pw_bn_scale, %pw_bn_bias, %pw_bn_mean, %pw_bn_var epsilon 1.000000e-05 {nn.name = "pw_bn"} : (tensor<1x32x8x8xf32>, tensor<32xf32>, tensor<32xf32>, tensor<32xf32>, tensor<32xf32>) -> tensor<1x32x8x8xf32>
    %pw_relu = nn.relu %pw_bn {nn.name = "pw_relu"} : tensor<1x32x8x8xf32>
    %gap = nn.global_avg_pool %pw_relu {nn.name = "gap"} : (tensor<1x32x8x8xf32>) -> tensor<1x32x1x1xf32>
    %flat = nn.flatten %gap axis 1 {nn.name = "flat"} : (tensor<1x32x1x1xf32>) -> tensor<1x32xf32>
    %fc_w = nn.weight "fc.w" : tensor<10x32xf32>
    %fc_b = nn.constant dense<0.000000e+00> : tensor<10xf32>
    %fc = nn.gemm %flat, %fc_w bias %fc_b trans_b alpha 1.000000e+00 beta 1.000000e+00 {nn.name = "fc"} : (tensor<1x32xf32>, tensor<10x32xf32>, tensor<10xf32>) -> tensor<1x10xf32>
    %softmax = nn.softmax %fc axis -1 {nn.name = "softmax"} : tensor<1x10xf32>
    func.return %softmax : tensor<1x10xf32>
  }
}
