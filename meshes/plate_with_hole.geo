// Quarter plate [0,W] x [0,H] minus a hole of radius R at the origin, refined at the hole.
// Names: left (x=0), bottom (y=0), right, top, hole / plate.
SetFactory("OpenCASCADE");
W = 1.0;
H = 1.0;
R = 0.1;
h = W / 8;
hr = R / 8;   // size at the hole
Rectangle(1) = {0, 0, 0, W, H};
Disk(2) = {0, 0, 0, R, R};
BooleanDifference(3) = { Surface{1}; Delete; }{ Surface{2}; Delete; };
e = 1e-6;
Physical Curve("left") = Curve In BoundingBox{-e, R-e, -e, e, H+e, e};
Physical Curve("bottom") = Curve In BoundingBox{R-e, -e, -e, W+e, e, e};
Physical Curve("right") = Curve In BoundingBox{W-e, -e, -e, W+e, H+e, e};
Physical Curve("top") = Curve In BoundingBox{-e, H-e, -e, W+e, H+e, e};
Physical Curve("hole") = Curve In BoundingBox{-e, -e, -e, R+e, R+e, e};
Physical Surface("plate") = {3};
Field[1] = Distance; Field[1].CurvesList = {Curve In BoundingBox{-e, -e, -e, R+e, R+e, e}};
Field[2] = Threshold; Field[2].InField = 1; Field[2].SizeMin = hr; Field[2].SizeMax = h;
Field[2].DistMin = R; Field[2].DistMax = 2*R;
Background Field = 2;
Mesh.MeshSizeExtendFromBoundary = 0;
